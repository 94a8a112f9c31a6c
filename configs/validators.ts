// The shapes the settings accept: names, addresses, references. Pure predicates and patterns.

const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** bcrypt cost: at least 10 for user-chosen passwords; at 13 one check takes about a second of a worker. */
export const BCRYPT_COST_MIN = 10;
export const BCRYPT_COST_MAX = 12;
export const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/;
// Not starting with '-': the address is an argument of certbot's, which would read it as an option.
export const EMAIL = /^(?!-)[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[a-z]{2,}$/i;
// docker reference: [registry[:port]/]path[:tag][@digest], lower-case path components.
export const IMAGE_REF =
    /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function isValidDomain(domain: string): boolean {
    if (domain.length > 253 || !domain.includes(".")) return false;
    if (IPV4.test(domain)) return false;
    const labels = domain.split(".");
    return labels.every((l) => DOMAIN_LABEL.test(l)) && /[a-z]/.test(labels[labels.length - 1]);
}

export const isPort = (value: string) => /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;

/** `host:port` (or `[v6]:port`) split, with a port from 1 to 65535; undefined for any other shape. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s/:@[\]]+)):(\d+)$/.exec(text);
    return m && isPort(m[3]) ? { host: m[1] ?? m[2], port: Number(m[3]) } : undefined;
}

/** What is wrong with a Docker host address, or undefined when it is fine. */
export function dockerHostProblem(value: string): string | undefined {
    const expected = "unix:///path/to/docker.sock or ssh://user@host[:port]";
    if (/^unix:\/\/\/\S+$/.test(value)) return undefined;
    if (/^tcp:\/\//.test(value)) {
        // The Docker API over plain TCP has no authentication and no encryption: htpasswd hashes,
        // the http secret and S3 keys would cross the network in clear to anyone's root API.
        return `${expected}; tcp:// is refused: it sends the Docker API (and this stack's secrets) unauthenticated and in clear. Reach a remote engine with ssh:// instead`;
    }
    const ssh = /^ssh:\/\/([^@\s/]+@)?([^@\s/:]+)(?::([^/\s]*))?$/.exec(value);
    if (ssh && (ssh[3] === undefined || isPort(ssh[3]))) return undefined;
    return ssh ? `${expected} with a port from 1 to 65535` : expected;
}
