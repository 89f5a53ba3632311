import type { ChainableCommander, Redis } from 'ioredis';
import type { SessionEvent, SessionMeta, SessionRecord, SessionSave, SessionStore } from '../../actors/ports/session-store.js';
import { execChecked } from './redis-connection.js';

/**
 * One session's save, atomic and fenced by owner. KEYS: meta hash, seen set, events list.
 * ARGV: owner, ttl ms, meta JSON, seen mode (r: replace, d: difference), #adds, adds...,
 * #removes, removes..., events mode (r | a), max events, events JSON...
 * Returns 0 when another owner claimed the session (nothing written), 1 otherwise.
 * SADD/SREM/RPUSH go per 1000 arguments to stay below Lua's C-stack limit.
 */
const SAVE_LUA = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'meta', ARGV[3])
local i = 5
local adds = tonumber(ARGV[i])
if ARGV[4] == 'r' then redis.call('DEL', KEYS[2]) end
for j = i + 1, i + adds, 1000 do redis.call('SADD', KEYS[2], unpack(ARGV, j, math.min(j + 999, i + adds))) end
i = i + adds + 1
local removes = tonumber(ARGV[i])
for j = i + 1, i + removes, 1000 do redis.call('SREM', KEYS[2], unpack(ARGV, j, math.min(j + 999, i + removes))) end
i = i + removes + 1
if ARGV[i] == 'r' then redis.call('DEL', KEYS[3]) end
local max = tonumber(ARGV[i + 1])
local n = #ARGV
for j = i + 2, n, 1000 do redis.call('RPUSH', KEYS[3], unpack(ARGV, j, math.min(j + 999, n))) end
redis.call('LTRIM', KEYS[3], -max, -1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1
`;

/** KEYS: meta hash, seen set, events list; ARGV: owner, ttl ms. Returns {meta, seen, events} or nil. */
const CLAIM_LUA = `
local meta = redis.call('HGET', KEYS[1], 'meta')
if not meta then return nil end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
local ttl = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return {meta, redis.call('SMEMBERS', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1)}
`;

type Keys = [meta: string, seen: string, events: string];
interface SessionCommands {
  /** One array (ioredis flattens it): a session's seen set can hold more ids than a JS call takes arguments. */
  fleetlineSessionSave(args: string[]): ChainableCommander;
}
interface ClaimCommand {
  fleetlineSessionClaim(...args: string[]): Promise<[string, string[], string[]] | null>;
}

/**
 * Stream sessions in Redis, each under its own hash tag (one slot in a cluster):
 *   {prefix}session:{id}:meta    hash: owner (the connection that may write it), meta (JSON)
 *   {prefix}session:{id}:seen    set of the vehicle ids the client holds
 *   {prefix}session:{id}:events  list of the last sent events (JSON), at most maxEvents
 * every key with the session TTL, renewed by each save. A node saves its sessions in one
 * pipeline per WS_SESSION_SAVE_MS, and only what changed: never a write per frame.
 */
export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis' as const;
  private readonly prefix: string;

  constructor(private readonly redis: Redis, private readonly options: { prefix?: string; ttlMs: number; maxEvents: number }) {
    this.prefix = options.prefix ?? 'fleetline:';
    if (!('fleetlineSessionSave' in redis)) redis.defineCommand('fleetlineSessionSave', { numberOfKeys: 3, lua: SAVE_LUA });
    if (!('fleetlineSessionClaim' in redis)) redis.defineCommand('fleetlineSessionClaim', { numberOfKeys: 3, lua: CLAIM_LUA });
  }

  keys(id: string): Keys {
    const base = `${this.prefix}session:{${id}}:`;
    return [`${base}meta`, `${base}seen`, `${base}events`];
  }

  async save(batch: readonly SessionSave[]): Promise<Set<string>> {
    const claimed = new Set<string>();
    if (batch.length === 0) return claimed;
    const pipeline = this.redis.pipeline();
    for (const s of batch) {
      // concat, never spread: a 100k-vehicle scope is more ids than a call or a push takes arguments.
      const seen = 'replace' in s.seen
        ? ['r', String(s.seen.replace.length)].concat(s.seen.replace, ['0'])
        : ['d', String(s.seen.add.length)].concat(s.seen.add, [String(s.seen.remove.length)], s.seen.remove);
      const mode = 'replace' in s.events ? 'r' : 'a';
      const list = tail('replace' in s.events ? s.events.replace : s.events.append, this.options.maxEvents);
      (pipeline as unknown as SessionCommands).fleetlineSessionSave(
        [...this.keys(s.meta.id), s.owner, String(this.options.ttlMs), JSON.stringify(s.meta)].concat(
          seen, [mode, String(this.options.maxEvents)], list.map((e) => JSON.stringify(e)),
        ),
      );
    }
    const results = await execChecked(pipeline, 'session save');
    results.forEach((ok, i) => { if (ok !== 1) claimed.add(batch[i].meta.id); });
    return claimed;
  }

  async load(id: string): Promise<SessionRecord | null> {
    const [meta, seen, events] = this.keys(id);
    const results = await execChecked(this.redis.pipeline().hget(meta, 'meta').smembers(seen).lrange(events, 0, -1), 'session load');
    if (typeof results[0] !== 'string') return null;
    return record(results[0], results[1] as string[], results[2] as string[]);
  }

  async claim(id: string, owner: string): Promise<SessionRecord | null> {
    const got = await (this.redis as unknown as ClaimCommand).fleetlineSessionClaim(...this.keys(id), owner, String(this.options.ttlMs));
    return got === null ? null : record(got[0], got[1], got[2]);
  }

  async close(): Promise<void> {
    // The client is the node's, closed with it.
  }
}

function tail<T>(list: readonly T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : [...list];
}

function record(meta: string, seen: string[], events: string[]): SessionRecord {
  return { meta: JSON.parse(meta) as SessionMeta, seen: new Set(seen), events: events.map((e) => JSON.parse(e) as SessionEvent) };
}
