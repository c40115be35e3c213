// ehfake: a small in-memory stand-in for the Azure Event Hubs AMQP 1.0 endpoint, enough for
// azeventhubs/v2 (producer, partition clients, Processor) in tests. No emulator can be installed
// where eddy's tests run, so this implements the parts of the protocol the Go SDK uses:
//
//   - SASL ANONYMOUS and CBS put-token on "$cbs" (every token is accepted);
//   - "$management" READ of com.microsoft:eventhub and com.microsoft:partition;
//   - producer links to "HUB" (partition chosen by x-opt-partition-key, else round robin) and
//     "HUB/Partitions/N", with the batch format 0x80013700 unpacked into its events;
//   - consumer links from "HUB/ConsumerGroups/CG/Partitions/N" with the selector filter
//     (x-opt-offset, x-opt-sequence-number, x-opt-enqueued-time; > and >=; '-1' and '@latest'),
//     events annotated with x-opt-sequence-number, x-opt-offset (a string, as v2 wants),
//     x-opt-enqueued-time and x-opt-partition-key, sent as credit allows;
//   - owner levels (com.microsoft:epoch): a receiver with an equal or higher epoch detaches the
//     current one with amqp:link:stolen, which the SDK reports as ownershiplost.
//
// Usage: node ehfake.js PORT HUB:PARTITIONS[,HUB:PARTITIONS...]
// It prints "listening PORT" once ready. Connect with
// "Endpoint=sb://127.0.0.1:PORT;SharedAccessKeyName=k;SharedAccessKey=k;UseDevelopmentEmulator=true".
'use strict';

const rhea = require('rhea');
const types = rhea.types;
const amqpMessage = rhea.message;

const BATCH_FORMAT = 0x80013700;
const port = Number(process.argv[2] || 5672);
const hubs = new Map();
for (const spec of (process.argv[3] || 'hub:4').split(',')) {
  const [name, n] = spec.split(':');
  const partitions = [];
  for (let i = 0; i < Number(n || 4); i++) partitions.push({ events: [], nextOffset: 0, senders: new Set() });
  hubs.set(name, { name, created: new Date(), partitions, rr: 0 });
}

function hashKey(key, n) {
  let h = 0;
  for (const c of Buffer.from(key, 'utf8')) h = (h * 31 + c) >>> 0;
  return h % n;
}

function bodyBytes(m) {
  const b = m.body;
  if (b && b.typecode === 0x75) return b.multiple ? Buffer.concat(b.content) : Buffer.from(b.content);
  if (Buffer.isBuffer(b)) return b;
  return Buffer.from(JSON.stringify(b === undefined ? null : b));
}

// sections splits an encoded AMQP message into its raw sections, so that what a producer sent
// goes out again byte for byte (rhea's decoded form would lose the AMQP types of properties).
function sections(buf) {
  const reader = new types.Reader(buf);
  const out = [];
  while (reader.remaining()) {
    const start = reader.position;
    const s = reader.read();
    out.push({ code: Number(s.descriptor && s.descriptor.value), raw: buf.slice(start, reader.position) });
  }
  return out;
}

// append stores one event (its decoded form m and its encoding raw) in a partition and pushes it
// to the partition's consumers.
function append(hub, pid, m, raw) {
  const part = hub.partitions[pid];
  const key = m.message_annotations && m.message_annotations['x-opt-partition-key'];
  const ev = {
    seq: part.events.length,
    offset: part.nextOffset,
    time: Date.now(),
    key: key === undefined || key === null ? undefined : String(key),
    annotations: m.message_annotations || {},
    sections: sections(raw).filter((x) => x.code !== 0x72 && x.code !== 0x71),
  };
  part.nextOffset += raw.length + 64;
  part.events.push(ev);
  for (const s of part.senders) pump(s);
}

// unpack returns the events of a transfer as [decoded, encoded] pairs.
function unpack(context) {
  if (context.format === BATCH_FORMAT) {
    const outer = amqpMessage.decode(context.message);
    const bufs = outer.body.multiple ? outer.body.content : [outer.body.content];
    return bufs.map((buf) => {
      const inner = amqpMessage.decode(buf);
      if (!inner.message_annotations && outer.message_annotations) inner.message_annotations = outer.message_annotations;
      return [inner, Buffer.from(buf)];
    });
  }
  return [[context.message, amqpMessage.encode(context.message)]];
}

function parseAddress(addr) {
  const parts = (addr || '').replace(/^amqps?:\/\/[^/]+\//, '').split('/');
  return parts;
}

function reply(context, request, status, description, body) {
  const to = request.reply_to;
  const sender = context.connection.find_sender((s) => s.target && s.target.address === to) ||
    context.connection.find_sender((s) => s.source && s.source.address === context.receiver.target.address);
  if (!sender) return;
  sender.send({
    correlation_id: request.message_id,
    to,
    application_properties: { 'status-code': types.wrap_int(status), 'status-description': description },
    body,
  });
}

function management(context, m) {
  const ap = m.application_properties || {};
  const hub = hubs.get(ap.name);
  if (ap.operation !== 'READ' || !hub) {
    return reply(context, m, 404, 'The messaging entity ' + ap.name + ' could not be found.');
  }
  if (ap.type === 'com.microsoft:eventhub') {
    const ids = hub.partitions.map((_, i) => String(i));
    return reply(context, m, 200, 'OK', types.wrap_map({
      name: hub.name,
      type: 'com.microsoft:eventhub',
      created_at: types.wrap_timestamp(hub.created.getTime()),
      partition_count: types.wrap_int(ids.length),
      partition_ids: types.wrap_array(ids, 0xa1),
      georeplication_factor: types.wrap_int(1),
    }));
  }
  if (ap.type === 'com.microsoft:partition') {
    const part = hub.partitions[Number(ap.partition)];
    if (!part || String(Number(ap.partition)) !== String(ap.partition)) {
      return reply(context, m, 404, 'no partition ' + ap.partition);
    }
    const last = part.events[part.events.length - 1];
    return reply(context, m, 200, 'OK', types.wrap_map({
      name: hub.name,
      type: 'com.microsoft:partition',
      partition: String(ap.partition),
      begin_sequence_number: types.wrap_long(0),
      last_enqueued_sequence_number: types.wrap_long(last ? last.seq : -1),
      last_enqueued_offset: last ? String(last.offset) : '-1',
      last_enqueued_time_utc: types.wrap_timestamp(last ? last.time : 0),
      is_partition_empty: !last,
    }));
  }
  return reply(context, m, 400, 'unknown type ' + ap.type);
}

// startIndex turns a selector filter into the index of the first event to send.
function startIndex(part, filter) {
  const m = /amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'/.exec(filter || '');
  if (!m) return 0;
  const [, field, op, value] = m;
  if (field === 'offset' && value === '@latest') return part.events.length;
  if (field === 'offset' && value === '-1') return 0;
  const num = Number(value);
  const pick = { 'offset': (e) => e.offset, 'sequence-number': (e) => e.seq, 'enqueued-time': (e) => e.time }[field];
  const i = part.events.findIndex((e) => (op === '>' ? pick(e) > num : pick(e) >= num));
  return i < 0 ? part.events.length : i;
}

function annotationsSection(ann) {
  const w = new types.Writer();
  w.write(types.described_nc(types.wrap_ulong(0x72), types.wrap_symbolic_map(ann)));
  return w.toBuffer();
}

function pump(s) {
  const part = s.part;
  while (s.link.is_open() && s.link.sendable() && s.next < part.events.length) {
    const ev = part.events[s.next++];
    const ann = Object.assign({}, ev.annotations, {
      'x-opt-sequence-number': types.wrap_long(ev.seq),
      'x-opt-offset': String(ev.offset),
      'x-opt-enqueued-time': types.wrap_timestamp(ev.time),
    });
    if (ev.key !== undefined) ann['x-opt-partition-key'] = ev.key;
    const head = ev.sections.filter((x) => x.code === 0x70).map((x) => x.raw);
    const rest = ev.sections.filter((x) => x.code !== 0x70).map((x) => x.raw);
    const out = Buffer.concat([...head, annotationsSection(ann), ...rest]);
    // Event Hubs does not track deliveries to consumers (the checkpoint is the client's), so
    // they go pre-settled; unsettled ones would pile up in the client and stop its credit.
    const d = s.link.send(out, undefined, 0);
    d.settled = true;
  }
}

const container = rhea.create_container({ id: 'ehfake' });
container.sasl_server_mechanisms.enable_anonymous();

function echoModes(link) {
  link.local.attach.snd_settle_mode = link.remote.attach.snd_settle_mode;
  link.local.attach.rcv_settle_mode = link.remote.attach.rcv_settle_mode;
  link.set_source(link.remote.attach.source || {});
  link.set_target(link.remote.attach.target || {});
  link.local.attach.max_message_size = 1024 * 1024;
}

container.on('receiver_open', (context) => {
  // The client opened a sender: $cbs/$management requests or events to store.
  const link = context.receiver;
  echoModes(link);
  const [name, kind, pid] = parseAddress(link.remote.attach.target && link.remote.attach.target.address);
  if (name === '$cbs' || name === '$management' || kind === '$management') return;
  const hub = hubs.get(name);
  if (!hub || (kind !== undefined && (kind !== 'Partitions' || !hub.partitions[Number(pid)]))) {
    link.close({ condition: 'amqp:not-found', description: 'no entity ' + link.remote.attach.target.address });
  }
});

container.on('sender_open', (context) => {
  // The client opened a receiver: $cbs/$management replies or a partition's events.
  const link = context.sender;
  echoModes(link);
  const src = link.remote.attach.source || {};
  const [name, cg, group, parts, pid] = parseAddress(src.address);
  if (name === '$cbs' || name === '$management' || cg === '$management') return;
  const hub = hubs.get(name);
  const part = hub && cg === 'ConsumerGroups' && parts === 'Partitions' ? hub.partitions[Number(pid)] : undefined;
  if (!part) {
    link.close({ condition: 'com.microsoft:argument-out-of-range', description: 'no partition ' + src.address });
    return;
  }
  const props = link.remote.attach.properties || {};
  const epochRaw = props['com.microsoft:epoch'];
  const epoch = epochRaw === undefined || epochRaw === null ? undefined : Number(epochRaw);
  const filter = src.filter && src.filter['apache.org:selector-filter:string'];
  const s = { link, part, group, epoch, next: startIndex(part, filter && (filter.value !== undefined ? filter.value : filter)) };
  for (const other of part.senders) {
    if (other.group !== group) continue;
    if (epoch === undefined && other.epoch === undefined) continue;
    if (other.epoch !== undefined && (epoch === undefined || other.epoch > epoch)) {
      link.close({ condition: 'amqp:link:stolen', description: 'a receiver with a higher epoch of ' + other.epoch + ' exists' });
      return;
    }
    part.senders.delete(other);
    other.link.close({
      condition: 'amqp:link:stolen',
      description: 'New receiver with higher epoch of ' + epoch + ' is created hence current receiver with epoch ' + other.epoch + ' is getting disconnected.',
    });
  }
  part.senders.add(s);
  link.ehfake = s;
  pump(s);
});

container.on('sendable', (context) => {
  if (context.sender.ehfake) pump(context.sender.ehfake);
});

function forget(link) {
  if (link && link.ehfake) link.ehfake.part.senders.delete(link.ehfake);
}
container.on('sender_close', (context) => forget(context.sender));
container.on('sender_error', (context) => forget(context.sender));
container.on('disconnected', (context) => {
  for (const hub of hubs.values()) {
    for (const part of hub.partitions) {
      for (const s of part.senders) if (s.link.connection === context.connection) part.senders.delete(s);
    }
  }
});
container.on('error', () => {});
container.on('connection_error', () => {});

container.on('message', (context) => {
  if (process.env.EHFAKE_DEBUG) console.error('message to', context.receiver.target && context.receiver.target.address, context.format);
  const target = context.receiver.target && context.receiver.target.address;
  const [name, kind, pid] = parseAddress(target);
  if (name === '$cbs') return reply(context, context.message, 202, 'Accepted');
  if (name === '$management' || kind === '$management') return management(context, context.message);
  const hub = hubs.get(name);
  if (!hub) return;
  for (const [m, raw] of unpack(context)) {
    let p;
    if (kind === 'Partitions') p = Number(pid);
    else {
      const key = m.message_annotations && m.message_annotations['x-opt-partition-key'];
      p = key === undefined || key === null ? hub.rr++ % hub.partitions.length : hashKey(String(key), hub.partitions.length);
    }
    append(hub, p, m, raw);
  }
});

const server = container.listen({ port, host: '127.0.0.1' });
server.on('listening', () => console.log('listening ' + server.address().port));
server.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
