/**
 * duplexjs/redis: `redisBroker`, the Broker for several `duplex serve` processes (or several
 * Hubs) on one Redis. Its Redis client, ioredis, is an optional dependency loaded only by this
 * entry point: importing `duplexjs` or `duplexjs/hub` never loads it.
 */
export { type RedisBroker, type RedisBrokerOptions, redisBroker } from './redis-broker.js';
