// Pull-through mirrors (settings/mirrors.ts): each one more registry, in distribution's proxy
// mode, with its own storage, behind the same nginx on its own host name. Its config.yml, its
// container's command, the upstream's credentials file, nginx's routing by host name, and the
// client snippets of the outputs. Pure: settings (and secrets) in, text out.
import { Mirror, Settings } from "../settings/types";
import { DRAIN_SECONDS, REGISTRY_CONFIG_PATH, REGISTRY_DATA_DIR } from "./registry";
import { renderTemplate } from "./template";

/** Where the mirrors' sockets are, in a volume only the mirrors and nginx mount. */
export const MIRROR_SOCKET_DIR = "/run/registry-mirrors";
/** Where the mirror's config.yml is: where the registry image reads its own. */
export const MIRROR_CONFIG_PATH = REGISTRY_CONFIG_PATH;
/**
 * The upstream's username and password: a root-only file the mirror's command reads into the
 * registry's own environment (REGISTRY_PROXY_USERNAME/PASSWORD), as the S3 keys are read
 * (configs/registry.ts): in no config file, container setting or process argument.
 */
export const MIRROR_CREDENTIALS_PATH = "/etc/distribution/upstream-credentials";
export const MIRROR_CREDENTIALS_PERMISSIONS = "0400";
/** A private CA of the upstream's certificate, trusted besides the system roots. */
export const MIRROR_CA_PATH = "/etc/distribution/upstream-ca.crt";
const MIRROR_CA_DIR = "/run/upstream-ca";
/** How long a mirror waits before it starts its registry again (an upstream that did not answer at start). */
export const MIRROR_RETRY_SECONDS = 5;
/** The nginx variable naming the upstream a request goes to: the registry, or a host name's mirror. */
export const UPSTREAM_VARIABLE = "$registry_upstream";
/** The registry's own upstream group in the HTTPS server (https-server.conf.mustache). */
const REGISTRY_UPSTREAM = "docker-registry";

/** A mirror's socket. */
export function mirrorSocket(m: Pick<Mirror, "name">): string {
    return `${MIRROR_SOCKET_DIR}/${m.name}.sock`;
}

/** A mirror's container name (its volume's is the same). */
export function mirrorContainerName(s: Pick<Settings, "namePrefix">, m: Pick<Mirror, "name">): string {
    return `${s.namePrefix}-mirror-${m.name}`;
}

/** The mirror's config.yml; `httpSecret` makes it a secret. */
export function renderMirrorConfig(s: Pick<Settings, "stack">, m: Mirror, httpSecret: string): string {
    if (!/^[A-Za-z0-9]+$/.test(httpSecret)) throw new Error("registry http secret must be alphanumeric");
    return renderTemplate("mirror-registry.yml.mustache", {
        stack: s.stack,
        name: m.name,
        dataDir: REGISTRY_DATA_DIR,
        socket: mirrorSocket(m),
        drainSeconds: DRAIN_SECONDS,
        httpSecret,
        upstream: m.upstream,
        ttl: m.ttl === "0" ? "0s" : m.ttl,
    });
}

/** The mirror container's command (configs/templates/mirror-supervisor.sh.mustache). */
export function renderMirrorSupervisor(m: Mirror): string {
    return renderTemplate("mirror-supervisor.sh.mustache", {
        name: m.name,
        configPath: MIRROR_CONFIG_PATH,
        socketDir: MIRROR_SOCKET_DIR,
        socket: mirrorSocket(m),
        credentialsPath: m.credentials ? MIRROR_CREDENTIALS_PATH : false,
        caPath: m.caCertificate ? MIRROR_CA_PATH : false,
        caDir: MIRROR_CA_DIR,
        retrySeconds: MIRROR_RETRY_SECONDS,
    });
}

/**
 * The credentials file: username, then password, one per line, each a YAML single-quoted
 * scalar (distribution parses environment overrides as YAML, so `0x1f` or `yes` stays the exact
 * string). Handle the result as a secret.
 */
export function renderMirrorCredentials(username: string, password: string): string {
    const quote = (text: string) => {
        if (!/^[\x20-\x7e]+$/.test(text)) throw new Error("upstream credentials must be visible ASCII on one line");
        return `'${text.replace(/'/g, "''")}'`;
    };
    return `${quote(username)}\n${quote(password)}\n`;
}

/** nginx's upstream group of a mirror. */
function upstreamGroup(m: Pick<Mirror, "name">): string {
    return `registry-mirror-${m.name}`;
}

/**
 * Where the HTTPS server's proxy_pass goes: the registry's group, or with mirrors the variable
 * that routes each mirror's host name to its own (renderMirrorRouting).
 */
export function proxyUpstream(s: Pick<Settings, "mirrors">): string {
    return s.mirrors.length === 0 ? REGISTRY_UPSTREAM : UPSTREAM_VARIABLE;
}

/**
 * With mirrors, in the HTTPS server's file (http context): an upstream group per mirror, on
 * its socket, and the map from the request's host name to the group it goes to. The same
 * server (certificate, authentication, limits) serves every name; only the registry behind
 * it differs. Nothing without mirrors.
 */
export function renderMirrorRouting(s: Pick<Settings, "mirrors">): string {
    if (s.mirrors.length === 0) return "";
    const lines = ["# Pull-through mirrors (configs/mirrors.ts): each host name its own registry, in proxy mode."];
    for (const m of s.mirrors) {
        lines.push(`upstream ${upstreamGroup(m)} {`, `    server unix:${mirrorSocket(m)} max_fails=0;`, "    keepalive 8;", "}");
    }
    lines.push(`map $host ${UPSTREAM_VARIABLE} {`, `    default ${REGISTRY_UPSTREAM};`);
    for (const m of s.mirrors) lines.push(`    ${m.fqdn} ${upstreamGroup(m)};`);
    lines.push("}");
    return lines.join("\n");
}

/** What the outputs say about a mirror: where it is, and how clients use it. */
export interface MirrorOutput {
    name: string;
    /** `<name>.<domain>[:port]`: pull `<host>/library/alpine:3`. */
    host: string;
    url: string;
    upstream: string;
    /** `/etc/docker/daemon.json` content: Docker Hub mirrors only (Docker mirrors nothing else). */
    daemonJson?: string;
    /** Where containerd's hosts.toml goes, and its content (any upstream). */
    containerdHostsPath: string;
    containerdHostsToml: string;
}

/** The upstream as containerd names it in certs.d (Docker Hub: docker.io). */
function containerdNamespace(m: Mirror): string {
    return m.dockerHub ? "docker.io" : new URL(m.upstream).host;
}

/** Client snippets of a mirror served on `httpsPort`. */
export function mirrorOutput(m: Mirror, httpsPort: number): MirrorOutput {
    const host = httpsPort === 443 ? m.fqdn : `${m.fqdn}:${httpsPort}`;
    const url = `https://${host}`;
    const namespace = containerdNamespace(m);
    const server = m.dockerHub ? "https://registry-1.docker.io" : m.upstream;
    const toml = [
        `# /etc/containerd/certs.d/${namespace}/hosts.toml: pull ${namespace} images through the mirror ${m.name}.`,
        `server = "${server}"`,
        "",
        `[host."${url}"]`,
        '  capabilities = ["pull", "resolve"]',
        "  # The mirror asks for a registry user's credentials (pull access suffices): give them in",
        "  # your CRI's registry auth, or here as a header:",
        '  # [host."' + url + '".header]',
        '  #   Authorization = "Basic <base64 of user:password>"',
        "",
    ].join("\n");
    return {
        name: m.name,
        host,
        url,
        upstream: m.upstream,
        ...(m.dockerHub ? { daemonJson: `${JSON.stringify({ "registry-mirrors": [url] }, null, 2)}\n` } : {}),
        containerdHostsPath: `/etc/containerd/certs.d/${namespace}/hosts.toml`,
        containerdHostsToml: toml,
    };
}
