/** The slice of a structured logger the core uses (pino's Logger satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (benchmarks, tests of the core). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
