/**
 * The service's logs: every line one JSON object, `level`, `time` (ISO 8601) and `msg` first,
 * then the fields, so a log store such as ACA's Log Analytics splits it into columns. Written
 * here rather than taken from a logging library: what the service needs is one
 * `JSON.stringify` per line through a sink the entry point passes in (pino writes through
 * node: streams and worker-thread transports; the Web-only libraries format their own field
 * names and need global configuration). Web APIs only.
 * @module
 */

/** How bad it is; `warn` and `error` go to stderr through {@link consoleSink}. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** A line's fields beside `level`, `time` and `msg` (which they cannot replace). */
export type LogFields = Record<string, unknown>

/** Writes one finished line (no trailing newline). */
export type LogSink = (line: string, level: LogLevel) => void

/** Writes JSON lines. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

const RESERVED = new Set(['level', 'time', 'msg'])
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** A logger writing through `sink`; `now` is the clock the `time` field reads. */
export function createLogger(sink: LogSink, now: () => Date = () => new Date()): Logger {
  const write = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    const entry: LogFields = { level, time: now().toISOString(), msg }
    for (const [key, value] of Object.entries(fields)) {
      if (!RESERVED.has(key) && value !== undefined) entry[key] = value
    }
    sink(serialise(entry), level)
  }
  const logger = {} as Logger
  for (const level of LEVELS) logger[level] = (msg, fields) => write(level, msg, fields)
  return Object.freeze(logger)
}

/** The entry as JSON; a field that cannot be serialised (a cycle) costs only the fields. */
function serialise(entry: LogFields): string {
  try {
    return JSON.stringify(entry, replacer)
  } catch {
    const { level, time, msg } = entry
    return JSON.stringify({ level, time, msg, log_error: 'fields not serialisable' })
  }
}

/** Errors as their name, message and stack (JSON.stringify makes `{}` of them); bigints as text. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack }
  return value
}

/** The sink for a console: debug and info on stdout (`log`), warn and error on stderr. */
export function consoleSink(target: Pick<Console, 'log' | 'error'>): LogSink {
  const out = target.log.bind(target)
  const err = target.error.bind(target)
  return (line, level) => (level === 'warn' || level === 'error' ? err(line) : out(line))
}

/**
 * Sends what anything else prints with `console` (the Node adapter's shutdown messages, a
 * dependency's warning) through `log` as a JSON line too. Pass `log` a sink made from the
 * console before this call: the sink keeps the original methods.
 */
export function routeConsole(target: Console, log: Logger): void {
  const route = (level: LogLevel) => (...args: unknown[]): void => log[level](formatArgs(args))
  target.debug = route('debug')
  target.log = target.info = route('info')
  target.warn = route('warn')
  target.error = route('error')
}

function formatArgs(args: unknown[]): string {
  return args
    .map((arg) => {
      if (typeof arg === 'string') return arg
      if (arg instanceof Error) return `${arg.name}: ${arg.message}`
      try {
        return JSON.stringify(arg) ?? String(arg)
      } catch {
        return String(arg)
      }
    })
    .join(' ')
}
