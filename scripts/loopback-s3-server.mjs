// An S3-compatible server on a loopback port, for the demo (`npm run demo`) and the s3
// store's tests: s3rver (npm) with a thin front that adds, for named buckets and keys only,
// the answers s3rver cannot give. Run as a child process by scripts/loopback-s3.ts:
//
//   node --openssl-legacy-provider scripts/loopback-s3-server.mjs DIRECTORY
//
// It prints one line of JSON ({"port": N}) once both listen, and stops on SIGTERM, and when
// its stdin closes (the process that started it ended, even by SIGKILL: no orphan server).
//
// Why a child process with --openssl-legacy-provider: s3rver encrypts ListObjectsV2
// continuation tokens with DES, which Node 20's OpenSSL 3 only offers through its legacy
// provider; without it every listing of more than one page fails with a 500.
//
// What the front adds (everything else reaches s3rver untouched):
// - GET ?versioning answers `Enabled` for buckets named `versioned-*` and an empty
//   configuration (never versioned) otherwise. s3rver does not implement versioning; left
//   alone it answers GET ?versioning with an object listing.
// For the tests only (by bucket or key name; the demo's names never match):
// - GET /__stats/BUCKET: the number of keys in each DeleteObjects request the bucket got
//   (an SDK retry of a request counts once: s3rver sometimes fails the request that empties
//   a directory with a 500, which the SDK retries).
// - Keys whose last segment starts with `held-` are refused by DeleteObjects with a per-key
//   AccessDenied error and stay in place, as AWS S3 does for an object under an Object Lock
//   legal hold. s3rver never reports per-key errors (it answers every key as deleted).
// - Every request to a bucket named `slowdown-*` gets 503 SlowDown, as S3 does when
//   throttling, so the tests can see a transient error carry a retryable code.
import { rm } from 'node:fs/promises';
import http from 'node:http';
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: loopback-s3-server.mjs DIRECTORY\n');
  process.exit(2);
}

const s3rver = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  // The front rewrites DeleteObjects bodies, so their payload signature no longer matches.
  allowMismatchedSignatures: true,
});
const inner = await s3rver.run();

/** Kept-alive connections to s3rver: a new TCP connection per request made HEAD-heavy tests crawl. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const HELD = /(^|\/)held-[^/]*$/;

/** Per bucket, the number of keys in each DeleteObjects request, for GET /__stats/BUCKET. */
const deleteRequests = new Map();

function xmlError(code, message) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`;
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Sends a request on to s3rver and returns its answer (status, headers, body). */
function forward(request, body) {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers, host: `127.0.0.1:${inner.port}` };
    if (body !== undefined) {
      headers['content-length'] = String(body.length);
      for (const name of Object.keys(headers)) {
        if (name === 'content-md5' || name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm') delete headers[name];
      }
    }
    const out = http.request({ agent, host: '127.0.0.1', port: inner.port, method: request.method, path: request.url, headers }, (response) => {
      readBody(response).then((data) => resolve({ status: response.statusCode ?? 500, headers: response.headers, body: data }), reject);
    });
    out.on('error', reject);
    if (body !== undefined) out.end(body);
    else request.pipe(out);
  });
}

async function deleteObjects(request, response) {
  const body = (await readBody(request)).toString('utf8');
  const objects = [...body.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((match) => ({
    xml: match[0],
    key: /<Key>([\s\S]*?)<\/Key>/.exec(match[1])?.[1] ?? '',
  }));
  const bucket = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.split('/')[1] ?? '';
  // Keyed by the SDK's invocation id, so a retried attempt of one request counts once.
  const invocation = request.headers['amz-sdk-invocation-id'] ?? String(Math.random());
  deleteRequests.set(bucket, new Map(deleteRequests.get(bucket) ?? []).set(invocation, objects.length));
  const held = objects.filter((object) => HELD.test(object.key));
  const rest = objects.filter((object) => !HELD.test(object.key));
  let answer = '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>';
  if (rest.length > 0) {
    const forwarded = body.replace(/<Object>[\s\S]*<\/Object>/, rest.map((object) => object.xml).join(''));
    const result = await forward(request, Buffer.from(forwarded, 'utf8'));
    if (result.status !== 200) {
      response.writeHead(result.status, result.headers);
      response.end(result.body);
      return;
    }
    answer = result.body.toString('utf8');
  }
  const errors = held.map((object) => `<Error><Key>${object.key}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`);
  answer = answer.replace('</DeleteResult>', `${errors.join('')}</DeleteResult>`);
  response.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(answer) });
  response.end(answer);
}

const front = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const bucket = url.pathname.split('/')[1] ?? '';
  const fail = (error) => {
    response.writeHead(500, { 'content-type': 'application/xml' });
    response.end(xmlError('InternalError', String(error)));
  };
  if (bucket === '__stats') {
    const name = url.pathname.split('/')[2] ?? '';
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ deleteRequests: [...(deleteRequests.get(name) ?? new Map()).values()] }));
    return;
  }
  if (bucket.startsWith('slowdown-')) {
    request.resume();
    response.writeHead(503, { 'content-type': 'application/xml' });
    response.end(xmlError('SlowDown', 'Please reduce your request rate.'));
    return;
  }
  if (request.method === 'GET' && url.searchParams.has('versioning') && url.pathname.replace(/\/$/, '').split('/').length === 2) {
    const status = bucket.startsWith('versioned-') ? '<Status>Enabled</Status>' : '';
    response.writeHead(200, { 'content-type': 'application/xml' });
    response.end(`<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${status}</VersioningConfiguration>`);
    return;
  }
  if (request.method === 'POST' && url.searchParams.has('delete')) {
    deleteObjects(request, response).catch(fail);
    return;
  }
  forward(request)
    .then((result) => {
      response.writeHead(result.status, result.headers);
      response.end(result.body);
    })
    .catch(fail);
});

front.listen(0, '127.0.0.1', () => {
  const address = front.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // No graceful close: the data is thrown away, and requests still in flight would only
  // make s3rver log to closed transports. Connections are dropped, the data removed (the
  // starter removes it too; this covers a parent that died).
  front.close();
  front.closeAllConnections();
  agent.destroy();
  rm(directory, { recursive: true, force: true, maxRetries: 3 })
    .catch(() => undefined)
    .finally(() => process.exit(0));
}
process.on('SIGTERM', stop);
// The parent holds our stdin open while it lives: when it ends, so do we.
process.stdin.on('end', stop).on('close', stop).on('error', stop).resume();
