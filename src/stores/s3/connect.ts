import { S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../../errors.js';
import { CREDENTIALS_HINT, type S3StoreConfig } from './s3-config.js';

/** How long to wait for a TCP connection, and for a whole answer, before giving up (retried). */
const CONNECTION_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 120_000;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Credentials from the environment only (never the config file, never the SDK's other
 * sources such as ~/.aws or instance metadata, so what a sweep runs as is what the
 * environment says). Null when they are not set.
 */
export function credentialsFrom(env: NodeJS.ProcessEnv): S3Credentials | null {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return null;
  return env.AWS_SESSION_TOKEN ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN } : { accessKeyId, secretAccessKey };
}

/** Where the bucket is, for messages: `s3://bucket at https://host (stores.docs in config.yaml)`. */
export interface S3Place {
  bucket: string;
  endpoint: string;
  origin: string;
}

export const showPlace = (place: S3Place): string => `s3://${place.bucket} at ${place.endpoint} (${place.origin})`;

export function createS3Client(config: S3StoreConfig, credentials: S3Credentials | null, origin: string): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? false,
    // Without credentials every call is refused by `missingCredentials` below, before any
    // request; the SDK's default chain (files, instance metadata) is never consulted.
    credentials: async () => {
      if (!credentials) throw missingCredentials(origin);
      return credentials;
    },
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
}

export function missingCredentials(origin: string): UserError {
  return new UserError(`${origin}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set; ${CREDENTIALS_HINT}`);
}

/**
 * A failure the executor should retry: the server was unreachable, too slow, or answered
 * that it is busy or failing (HTTP 5xx, SlowDown). `code` is a network code the executor
 * knows as transient: the connection's own (ECONNREFUSED, ECONNRESET...), ETIMEDOUT for a
 * timeout, EAGAIN ("try again") for a 5xx answer.
 */
export class S3UnavailableError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'S3UnavailableError';
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const BUSY_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'ServiceUnavailable', 'InternalError', 'RequestTimeTooSkewed']);
const DENIED_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'Forbidden']);

interface SdkError {
  name?: string;
  code?: unknown;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * What an SDK failure means for a sweep: retry later (`S3UnavailableError`), a mistake the
 * user can fix (`UserError`: no such bucket, credentials refused), or anything else,
 * wrapped with its cause. Messages name the bucket and where it was configured, never a
 * credential.
 */
export function translateError(error: unknown, what: string, place: S3Place): Error {
  if (error instanceof UserError) return error;
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? '';
  const at = showPlace(place);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) {
    return new S3UnavailableError(`${what} failed: cannot reach ${at}: ${e.code}`, e.code, { cause: error });
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return new S3UnavailableError(`${what} failed: ${at} did not answer in time`, 'ETIMEDOUT', { cause: error });
  }
  if (name === 'NotImplemented' || status === 501) {
    return new Error(`${what} failed: ${at} does not implement it (NotImplemented)`, { cause: error });
  }
  if (BUSY_NAMES.has(name) || (status !== undefined && status >= 500)) {
    return new S3UnavailableError(`${what} failed: ${at} answered ${name || 'an error'} (HTTP ${status ?? '?'}); retry later`, 'EAGAIN', {
      cause: error,
    });
  }
  if (name === 'NoSuchBucket' || (name === 'NotFound' && what.startsWith('HeadBucket'))) {
    return new UserError(`bucket ${JSON.stringify(place.bucket)} does not exist at ${place.endpoint} (${place.origin})`, { cause: error });
  }
  if (DENIED_NAMES.has(name) || status === 403) {
    return new UserError(`${what} on ${at} was refused (${name || 'HTTP 403'}): check the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and their permissions`, {
      cause: error,
    });
  }
  return new Error(`${what} on ${at} failed: ${name}${e.message ? `: ${e.message}` : ''}`, { cause: error });
}
