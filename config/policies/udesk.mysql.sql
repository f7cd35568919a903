-- Udesk: the MariaDB/MySQL table config/policies/udesk.yaml sweeps (store `support`):
-- customer-service conversations, the "log records of chats or messages with customers"
-- of the statement's section 2. Load into an empty database, the one $MYSQL_URL names:
--   mysql -u root -e 'CREATE DATABASE udesk' && mysql -u root udesk < config/policies/udesk.mysql.sql
--
-- Anchors are TIMESTAMP columns: instants (the store reads them at UTC), so no zone is
-- needed. relationship_ended_at means what it means in udesk.sql (NULL: the relationship
-- goes on); deletion_requested_at is when the contact asked to be deleted (NULL: never).

CREATE TABLE udesk_conversations (
  id                     BIGINT AUTO_INCREMENT PRIMARY KEY,
  contact_email          VARCHAR(255) NOT NULL,
  channel                VARCHAR(16) NOT NULL,
  transcript             TEXT NOT NULL,
  started_at             TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  relationship_ended_at  TIMESTAMP NULL DEFAULT NULL,
  deletion_requested_at  TIMESTAMP NULL DEFAULT NULL,
  KEY (relationship_ended_at),
  KEY (deletion_requested_at),
  KEY (contact_email)
);
