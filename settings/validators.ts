// The shapes the settings accept: names, addresses, references, passwords. Pure predicates and
// patterns, with no import from this folder, so every parser of it can use them.
import { isIP } from "node:net";

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

/** What is wrong with a registry password (bcrypt reads 72 bytes and no line breaks), or undefined. */
export function passwordProblem(password: string): string | undefined {
    const bytes = Buffer.byteLength(password, "utf8");
    if (password.length < 12) return `expected at least 12 characters, got ${password.length}`;
    // bcrypt reads only the first 72 bytes: a longer password would be silently cut.
    if (bytes > 72) return `expected at most 72 bytes (bcrypt's limit), got ${bytes}`;
    if (/[\r\n\0]/.test(password)) return "must not contain line breaks or NUL characters";
    return undefined;
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

/** The 32 or 128 bits of an IP address (IPv4, or IPv6 with or without a dotted IPv4 tail), or undefined. */
function ipBits(address: string): { family: 4 | 6; value: bigint } | undefined {
    const family = isIP(address);
    if (family === 4) return { family, value: address.split(".").reduce((v, b) => (v << 8n) | BigInt(b), 0n) };
    if (family !== 6 || address.includes("%")) return undefined;
    const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
    const hex = tail
        ? `${address.slice(0, -tail.length)}${(ipBits(tail)!.value >> 16n).toString(16)}:${(ipBits(tail)!.value & 0xffffn).toString(16)}`
        : address;
    const groups = (s: string) => (s ? s.split(":").map((g) => BigInt(`0x${g}`)) : []);
    const [head, rest] = hex.split("::");
    const before = groups(head);
    const after = rest === undefined ? [] : groups(rest);
    const all = rest === undefined ? before : [...before, ...Array<bigint>(8 - before.length - after.length).fill(0n), ...after];
    return { family, value: all.reduce((v, g) => (v << 16n) | g, 0n) };
}

/** An address of `family` written from its bits (IPv6 with its longest run of zero groups as `::`). */
function ipText(family: 4 | 6, value: bigint): string {
    if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
    const groups = Array.from({ length: 8 }, (_, i) => (value >> BigInt(112 - 16 * i)) & 0xffffn);
    let best = { at: -1, length: 1 };
    for (let i = 0; i < 8; i++) {
        let n = 0;
        while (i + n < 8 && groups[i + n] === 0n) n++;
        if (n > best.length) best = { at: i, length: n };
    }
    const hex = groups.map((g) => g.toString(16));
    if (best.at < 0) return hex.join(":");
    return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.length).join(":")}`;
}

/**
 * What is wrong with an address or CIDR range of nginx's `set_real_ip_from` (`10.0.0.10`,
 * `10.0.0.0/24`, `fd00::/64`), as the expected form; undefined when it is fine. A range with
 * bits set past its prefix (nginx only warns, and ignores them) is refused with its network;
 * /0 too: trusting every address lets any client name any address.
 */
export function cidrProblem(text: string): string | undefined {
    const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
    const ip = m ? ipBits(m[1]) : undefined;
    const width = ip?.family === 4 ? 32 : 128;
    const prefix = m?.[2] === undefined ? width : Number(m[2]);
    if (!m || !ip || prefix > width) return "an IPv4 or IPv6 address or CIDR range, such as 10.0.0.10, 10.0.0.0/24 or fd00::/64";
    if (prefix === 0)
        return "a range narrower than /0 (trusting every address lets any client claim any address in X-Forwarded-For and escape the login limit)";
    const host = (1n << BigInt(width - prefix)) - 1n;
    if ((ip.value & host) !== 0n)
        return `a network address, with no bits set past /${prefix}: ${ipText(ip.family, ip.value & ~host)}/${prefix}`;
    return undefined;
}

/** Whether an IP address is unspecified (0.0.0.0, ::: every interface) or loopback (127.0.0.0/8, ::1), IPv4-mapped ones too. */
export function ipScope(address: string): "unspecified" | "loopback" | undefined {
    const ip = ipBits(address);
    if (!ip) return undefined;
    const v4 = ip.family === 4 ? ip.value : ip.value >> 32n === 0xffffn ? ip.value & 0xffffffffn : undefined;
    if (ip.value === 0n || v4 === 0n) return "unspecified";
    if ((v4 !== undefined && v4 >> 24n === 127n) || (ip.family === 6 && ip.value === 1n)) return "loopback";
    return undefined;
}

/** `text` as a URL, or undefined when it is not one. */
export function parseUrl(text: string): URL | undefined {
    try {
        return new URL(text);
    } catch {
        return undefined;
    }
}
