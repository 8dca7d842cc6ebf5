#!/usr/bin/env node
// The container's HEALTHCHECK: GET a health route on this container and exit 0 on a 2xx, 1 otherwise, within 4 s.
// Plain Node, since the image has no curl. The listener's own certificate is not checked: this asks the process
// beside it whether it answers, over loopback, and a certificate made for the public name would not match anyway.
//
//   node healthcheck.mjs [URL]   default: $KEEPTRUSTS_HEALTHCHECK_URL, else /healthz on 127.0.0.1:41002, over
//                                https when KEEPTRUSTS_TLS_CERT is set
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const url = new URL(
  process.argv[2] ?? process.env.KEEPTRUSTS_HEALTHCHECK_URL ?? `${process.env.KEEPTRUSTS_TLS_CERT ? 'https' : 'http'}://127.0.0.1:41002/healthz`,
);
const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
const req = request(url, { method: 'GET', timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  if (!ok) process.stderr.write(`${url.pathname}: HTTP ${res.statusCode}\n`);
  process.exitCode = ok ? 0 : 1;
});
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) => {
  process.stderr.write(`${url.pathname}: ${err.message}\n`);
  process.exitCode = 1;
});
req.end();
