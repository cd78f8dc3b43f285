/**
 * A real nginx in front of the reference service, for the end-to-end test: find the binary,
 * write a throwaway PKI's files and an nginx.conf into one temporary directory (no daemon, pid,
 * logs and temp paths all inside it, 127.0.0.1 only), start nginx and the service processes as
 * children, wait for them within a bound, and stop them. Node only: it spawns and signals
 * processes, and the test that uses it runs under Node alone.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { delimiter, join } from 'node:path'
import { encodePem } from '../../src/x509/pem.ts'
import { SERVICE_VARIABLES } from '../../src/service/config.ts'

/** Where Debian and source builds put nginx; a non-root PATH often lacks the sbin directories. */
const NGINX_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin', '/usr/bin']


/** A child process with its output collected, and its exit as a promise. */
export interface Child {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** The ports and files the nginx.conf refers to. */
export interface NginxSetup {
  /** The temporary directory: the nginx prefix, holding every file nginx reads or writes. */
  dir: string
  /** Server A: `ssl_verify_client on`. */
  requiredPort: number
  /** Server B: `ssl_verify_client optional`. */
  optionalPort: number
  /** The certgate service reading Envoy-format XFCC. */
  xfccServicePort: number
  /** The certgate service reading nginx's own `ssl-client-cert` / `ssl-client-verify`. */
  nginxServicePort: number
}

/** The absolute path of an nginx executable, or null when none is installed. */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...NGINX_DIRS]
  for (const dir of dirs) {
    const candidate = join(dir, 'nginx')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not here; try the next directory.
    }
  }
  return null
}

/** A private key as PKCS#8 PEM, which nginx (OpenSSL) and Node's TLS both read. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key))
  return encodePem(pkcs8, { label: 'PRIVATE KEY' })
}

/** Writes `text` to `dir/name` (keys readable by the owner only) and returns the path. */
export function writeFile(dir: string, name: string, text: string, secret = false): string {
  const path = join(dir, name)
  writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 })
  return path
}

/**
 * The nginx.conf. Both servers build one Envoy-format XFCC element from what nginx verified
 * (`Cert="$ssl_client_escaped_cert"`; nginx's own fingerprint is SHA-1, so no `Hash`), and
 * `proxy_set_header` REPLACES whatever X-Forwarded-Client-Cert the client sent: nginx never
 * passes a client header whose name it sets, even when the value it sets is empty. Server A's
 * `/nginx-format/` forwards nginx's own `ssl-client-cert` and `ssl-client-verify` instead.
 * Expects `server.pem` (server certificate + intermediate), `server.key` and `client-ca.pem`
 * (root + intermediate) in `setup.dir`.
 */
export function nginxConfig(setup: NginxSetup): string {
  const { dir } = setup
  const xfccUpstream = `http://127.0.0.1:${setup.xfccServicePort}`
  // As root, workers would switch to `nobody`, who cannot enter the 0700 temporary directory.
  const user = process.getuid?.() === 0 ? 'user root;' : ''
  return `# Written by test/support/nginx.ts for one test run; every path is inside ${dir}.
worker_processes 1;
${user}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;

events {
  worker_connections 64;
}

http {
  log_format probe '$server_port "$request_uri" $status upstream=$upstream_addr '
                   'verify=$ssl_client_verify';
  access_log ${dir}/access.log probe;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;

  # No certificate, no element: an empty value makes proxy_set_header send no header at all.
  map $ssl_client_escaped_cert $certgate_xfcc {
    ''      '';
    default 'Cert="$ssl_client_escaped_cert"';
  }

  ssl_certificate ${dir}/server.pem;
  ssl_certificate_key ${dir}/server.key;
  ssl_client_certificate ${dir}/client-ca.pem;
  ssl_verify_depth 2;

  server {
    listen 127.0.0.1:${setup.requiredPort} ssl;
    server_name localhost;
    ssl_verify_client on;

    location / {
      proxy_pass ${xfccUpstream};
      proxy_set_header X-Forwarded-Client-Cert $certgate_xfcc;
    }

    location /nginx-format/ {
      proxy_pass http://127.0.0.1:${setup.nginxServicePort}/;
      proxy_set_header ssl-client-cert $ssl_client_escaped_cert;
      proxy_set_header ssl-client-verify $ssl_client_verify;
    }
  }

  server {
    listen 127.0.0.1:${setup.optionalPort} ssl;
    server_name localhost;
    ssl_verify_client optional;

    location / {
      proxy_pass ${xfccUpstream};
      proxy_set_header X-Forwarded-Client-Cert $certgate_xfcc;
    }
  }
}
`
}

/** Spawns `command`, collecting stdout and stderr together. */
function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Child {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  return { child, output: () => output, exited }
}

/** Resolves once a TCP connection to 127.0.0.1:`port` succeeds. */
function connects(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Starts nginx in the foreground on `setup`'s config (`nginx -p dir -c dir/nginx.conf -g
 * 'daemon off;'`), and resolves once both servers accept connections. Rejects, with nginx's
 * output and error log, if it exits or is not listening within `timeoutMs`.
 */
export async function startNginx(
  binary: string,
  setup: NginxSetup,
  timeoutMs: number
): Promise<Child> {
  const conf = writeFile(setup.dir, 'nginx.conf', nginxConfig(setup))
  // `-e`: the error log before the config is read; Debian's default may not be writable.
  const args = ['-p', setup.dir, '-e', join(setup.dir, 'error.log'), '-c', conf]
  const nginx = spawnChild(binary, [...args, '-g', 'daemon off;'], process.env, setup.dir)
  let exited = false
  void nginx.exited.then(() => (exited = true))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ready = await Promise.all([connects(setup.requiredPort), connects(setup.optionalPort)])
    if (ready.every(Boolean)) return nginx
    if (exited || Date.now() > deadline) {
      const log = join(setup.dir, 'error.log')
      const errors = existsSync(log) ? readFileSync(log, 'utf8') : '(no error.log)'
      nginx.child.kill('SIGKILL')
      throw new Error(
        `nginx ${exited ? 'exited' : `was not listening within ${timeoutMs} ms`}\n` +
          `output: ${nginx.output()}\nerror.log: ${errors}`
      )
    }
    await sleep(50)
  }
}

/**
 * Starts the reference service on Node (`node --import tsx src/service/main.ts`) in `root` with
 * exactly `vars` as its configuration, and resolves with its start line once it listens.
 */
export async function startService(
  root: string,
  vars: Record<string, string>,
  timeoutMs: number
): Promise<Child & { startLine: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  for (const name of SERVICE_VARIABLES) delete env[name]
  const args = ['--import', 'tsx', 'src/service/main.ts']
  const service = spawnChild(process.execPath, args, { ...env, ...vars }, root)
  let exited = false
  void service.exited.then(() => (exited = true))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const startLine = service.output().split('\n').find((line) => line.includes('listening on'))
    if (startLine !== undefined) return { ...service, startLine }
    if (exited || Date.now() > deadline) {
      service.child.kill('SIGKILL')
      const why = exited ? 'exited' : `did not listen within ${timeoutMs} ms`
      throw new Error(`the service ${why}\n${service.output()}`)
    }
    await sleep(50)
  }
}

/**
 * Stops a child with `signal` (nginx: SIGQUIT, a graceful stop; the service: SIGTERM), and
 * with SIGKILL if it has not exited within `timeoutMs`. Resolves once it has exited.
 */
export async function stopChild(
  child: Child,
  signal: NodeJS.Signals,
  timeoutMs: number
): Promise<void> {
  if (child.child.exitCode !== null || child.child.signalCode !== null) return
  child.child.kill(signal)
  let timer: ReturnType<typeof setTimeout> | undefined
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.child.kill('SIGKILL')
      resolve()
    }, timeoutMs)
  })
  await Promise.race([child.exited.then(() => undefined), killed])
  clearTimeout(timer)
  await child.exited
}
