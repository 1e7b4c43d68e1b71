// Minimal typings for the benchmark's untyped dev dependencies (no @types packages installed).
declare module 'autocannon' {
  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request;
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
  }
  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    timeout?: number;
    overallRate?: number;
    headers?: Record<string, string>;
    requests?: Request[];
  }
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    p50: number;
    p90: number;
    p99: number;
    p99_9: number;
    total: number;
  }
  export interface Result {
    requests: Histogram & { sent: number };
    latency: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}

declare module 'express' {
  import type { IncomingMessage, ServerResponse, Server } from 'node:http';
  interface Request extends IncomingMessage {
    query: Record<string, unknown>;
    header(name: string): string | undefined;
  }
  interface Response extends ServerResponse {
    json(body: unknown): Response;
  }
  type Handler = (request: Request, response: Response, next: () => void) => void;
  interface Application {
    use(path: string, ...handlers: unknown[]): Application;
    use(...handlers: unknown[]): Application;
    get(path: string, handler: Handler): Application;
    listen(port: number, host: string, callback: () => void): Server;
  }
  interface Express {
    (): Application;
    json(options?: Record<string, unknown>): unknown;
  }
  const express: Express;
  export default express;
}
