// Bench-only preload for the idle step (node --expose-gc --require): on SIGUSR2 the server runs a
// full garbage collection and appends its memory use to $GC_PROBE_OUT, so that per-connection
// memory is measured without the garbage left over from connecting and registering.
'use strict';
const fs = require('node:fs');

process.on('SIGUSR2', () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  fs.appendFileSync(process.env.GC_PROBE_OUT, `${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external })}\n`);
});
