/**
 * Kafka's murmur2 partitioner (the Java client's and kafkajs's default), so a device lands on
 * the same partition number in embedded mode as on a real Kafka topic.
 */
export function murmur2(data: Uint8Array, length: number = data.length): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8) + ((data[i4 + 2] & 0xff) << 16) + ((data[i4 + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length % 4;
  const idx = length & ~3;
  if (rest === 3) h ^= (data[idx + 2] & 0xff) << 16;
  if (rest >= 2) h ^= (data[idx + 1] & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[idx] & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Reused for every key that fits (device ids are at most 64 characters): no buffer per record. */
const scratch = Buffer.allocUnsafe(256);

export function partitionForKey(key: string, partitions: number): number {
  const bytes = Buffer.byteLength(key, 'utf8');
  const hash = bytes <= scratch.length ? murmur2(scratch, scratch.write(key, 0, 'utf8')) : murmur2(Buffer.from(key, 'utf8'));
  return (hash & 0x7fffffff) % partitions;
}
