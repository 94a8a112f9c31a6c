// DNS-01 in the certbot container: the plugin's credentials file (rendered from the checked
// fields), where it is, and certbot's arguments and environment for the challenge. The plugins
// themselves and the parsing of their fields are settings/acmeChallenge.ts's (PLUGINS). Pure.
//
// Credentials reach the certbot container as one root-only file (DNS_CREDENTIALS_PATH),
// uploaded as a secret: never in an environment variable, an argument or a script.
import { PLUGINS } from "../settings/acmeChallenge";
import type { AcmeChallenge, DnsChallenge, DnsPlugin } from "../settings/types";

/** The plugin's credentials in the certbot container: root-only, read by certbot (or route53's AWS SDK). */
export const DNS_CREDENTIALS_PATH = "/etc/registry-dns/credentials.ini";
export const DNS_CREDENTIALS_PERMISSIONS = "0400";
/** rfc2136's algorithm when none is given: what `tsig-keygen` makes (certbot's own default is HMAC-MD5). */
export const DEFAULT_TSIG_ALGORITHM = "HMAC-SHA256";

/** The plugin's credentials file, from the fields' values (already checked). */
export function renderDnsCredentials(plugin: DnsPlugin, values: Record<string, string>): string {
    const spec = PLUGINS[plugin];
    const lines = Object.entries(values).map(([name, value]) => `${spec.fields[name].key} = ${value}`);
    if (plugin === "rfc2136" && values.algorithm === undefined) lines.push(`${spec.fields.algorithm.key} = ${DEFAULT_TSIG_ALGORITHM}`);
    const header = "# Managed by the private-registry Pulumi program: the DNS plugin's credentials.\n";
    return `${header}${spec.file === "aws" ? "[default]\n" : ""}${lines.join("\n")}\n`;
}

/** Whether the certbot container gets the credentials file (route53 without keys uses the default chain). */
export function hasDnsCredentials(challenge: AcmeChallenge): challenge is DnsChallenge {
    return challenge.kind === "dns" && Object.keys(challenge.credentials).length > 0;
}

/** certbot's authenticator arguments for the challenge (after `certonly`). */
export function authenticatorArgs(challenge: AcmeChallenge, webroot: string): string[] {
    if (challenge.kind === "http") return ["--webroot", "--webroot-path", webroot];
    const name = `dns-${challenge.plugin}`;
    const args = ["--authenticator", name];
    if (PLUGINS[challenge.plugin].file === "argument") args.push(`--${name}-credentials`, DNS_CREDENTIALS_PATH);
    if (challenge.propagationSeconds !== undefined) args.push(`--${name}-propagation-seconds`, String(challenge.propagationSeconds));
    return args;
}

/** The certbot container's environment for the challenge: where route53's AWS SDK finds the keys. */
export function dnsEnv(challenge: AcmeChallenge): string[] {
    return hasDnsCredentials(challenge) && PLUGINS[challenge.plugin].file === "aws"
        ? [`AWS_SHARED_CREDENTIALS_FILE=${DNS_CREDENTIALS_PATH}`]
        : [];
}
