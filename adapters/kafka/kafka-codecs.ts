import { promisify } from 'node:util';
import { constants as zlibConstants, gzip as gzipCallback, gzipSync, unzip as unzipCallback, unzipSync } from 'node:zlib';
import kafkajs, { CompressionTypes } from 'kafkajs';
import snappyCodec from 'kafkajs-snappy';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { decompress as zstdDecompress } from 'fzstd';
import { compress as zstdCompress, init as zstdInit } from '@bokuweb/zstd-wasm';

/** A producer's compression as KAFKA_COMPRESSION names it. */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export const kafkaCompressionTypes: Record<KafkaCompression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** kafkajs hands compress() its encoder; only the bytes matter. */
interface Encoder { readonly buffer: Buffer }
interface Codec {
  compress(encoder: Encoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const toBuffer = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * LZ4 as Kafka frames it: the standard LZ4 frame format (magic 04 22 4D 18), which every
 * client since message format v1 writes; lz4_flex (via lz4-napi) reads frames with or
 * without content size, checksums and linked blocks, and writes independent blocks.
 */
const lz4: Codec = {
  compress: async (encoder) => compressFrame(encoder.buffer),
  decompress: async (buffer) => decompressFrame(buffer),
};

const gzipAsync = promisify(gzipCallback);
const unzipAsync = promisify(unzipCallback);
const GZIP_OPTIONS = { level: zlibConstants.Z_BEST_SPEED };
/**
 * Batches up to this size are (de)compressed on the calling thread. Node's asynchronous zlib
 * costs ~110 µs of CPU per call whatever the size (a stream, its 16 KiB output chunks, the hop
 * to libuv's threads and back) against ~11 µs for gzipSync of a 3 KB batch: a produce request
 * holds one small batch per partition, so a live node made thousands of such calls a second.
 * Larger batches go to libuv's threads, so one of them never holds the event loop for long
 * (level 1 compresses ~4 µs per KB here: 64 KiB is ~0.25 ms).
 */
const SYNC_GZIP_BYTES = 64 * 1024;
/** Smaller for inflating: a crafted batch may inflate ~1000-fold, and that would be on the event loop. */
const SYNC_GUNZIP_BYTES = 16 * 1024;
/**
 * gzip at level 1 (kafkajs's own codec uses zlib's default, 6). A batch of 200 vehicle views
 * (26 KB of MessagePack) compresses in 77–91 µs instead of 414–443 µs, to 7.3 KB instead of
 * 6.9 KB: gzip was the largest single cost of a live node on Kafka (5.7–8 % of its main
 * thread's samples in two profiles, docs/performance.md), and any gzip reader reads either.
 */
const gzip: Codec = {
  compress: async (encoder) => (encoder.buffer.length <= SYNC_GZIP_BYTES ? gzipSync(encoder.buffer, GZIP_OPTIONS) : gzipAsync(encoder.buffer, GZIP_OPTIONS)),
  decompress: async (buffer) => (buffer.length <= SYNC_GUNZIP_BYTES ? unzipSync(buffer) : unzipAsync(buffer)),
};

let zstdReady: Promise<void> | undefined;
/**
 * Zstandard. Decoding is fzstd (pure JS, streaming): frames written by streaming producers
 * (Java's zstd-jni) carry no content size, which one-shot decoders must guess and cap.
 * Encoding is libzstd compiled to WebAssembly (level 3, zstd's default).
 */
const zstd: Codec = {
  compress: async (encoder) => {
    zstdReady ??= zstdInit();
    await zstdReady;
    return toBuffer(zstdCompress(encoder.buffer, 3));
  },
  decompress: async (buffer) => toBuffer(zstdDecompress(buffer)),
};

let registered = false;

/**
 * Teaches kafkajs every codec Kafka has, and a faster gzip (kafkajs ships gzip only and throws "… compression not
 * implemented" on a batch in any other codec, which crashes its consumer). Process-wide and
 * idempotent: kafkajs keeps codecs in a module-level table.
 */
export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  // A default import: Node's CommonJS export detection does not see kafkajs's CompressionCodecs.
  const codecs = kafkajs.CompressionCodecs as Record<number, () => Codec>;
  codecs[CompressionTypes.GZIP] = () => gzip;
  // Snappy: raw blocks (librdkafka) and xerial framing (the Java client) both decode.
  codecs[CompressionTypes.Snappy] = snappyCodec as () => Codec;
  codecs[CompressionTypes.LZ4] = () => lz4;
  codecs[CompressionTypes.ZSTD] = () => zstd;
}
