// How the CA validates the names: the acmeChallenge field and, for DNS-01, dnsPlugin,
// dnsCredentials and dnsPropagationSeconds, parsed into an AcmeChallenge. PLUGINS describes
// each certbot DNS plugin this program supports: its image, its credential fields (how each is
// checked, and its key in the plugin's credentials file) and how certbot finds that file.
// Pure; configs/dns.ts renders the file and certbot's arguments from the same table.
import { isIP } from "node:net";
import { Fields } from "./fields";
import { show } from "./show";
import { AcmeChallenge, DnsPlugin, Secret, SecretValue } from "./types";
import { EMAIL, isPort } from "./validators";

/** A credential field: its key in the plugin's file, whether it must be stored as a secret, its check. */
interface CredentialField {
    key: string;
    secret: boolean;
    problem?: (value: string) => string | undefined;
}

interface PluginSpec {
    /** The image certbot publishes with the plugin. */
    image: string;
    fields: Record<string, CredentialField>;
    /** Which fields together make valid credentials (undefined: fine). */
    shape: (given: Set<string>) => string | undefined;
    /** certbot's --dns-<plugin>-propagation-seconds (route53 waits for the change itself). */
    propagation: boolean;
    /** How the plugin finds the file: certbot's --dns-<plugin>-credentials, or the AWS SDK's environment. */
    file: "argument" | "aws";
}

// What every value may hold: one line of the INI file, no comment or quote characters.
const VALUE = /^[A-Za-z0-9+/=._:@-]{1,512}$/;
const TSIG_ALGORITHMS = ["HMAC-MD5", "HMAC-SHA1", "HMAC-SHA224", "HMAC-SHA256", "HMAC-SHA384", "HMAC-SHA512"];

const needs = (fields: string[]) => (given: Set<string>) => {
    const missing = fields.filter((k) => !given.has(k));
    return missing.length ? `required: ${missing.join(", ")}` : undefined;
};

export const PLUGINS: Record<DnsPlugin, PluginSpec> = {
    rfc2136: {
        image: "certbot/dns-rfc2136:latest",
        fields: {
            server: {
                key: "dns_rfc2136_server",
                secret: false,
                problem: (v) =>
                    isIP(v)
                        ? undefined
                        : "expected the IP address of the DNS server that takes the updates (the plugin takes no host name)",
            },
            port: { key: "dns_rfc2136_port", secret: false, problem: (v) => (isPort(v) ? undefined : "expected a port from 1 to 65535") },
            name: { key: "dns_rfc2136_name", secret: false },
            secret: {
                key: "dns_rfc2136_secret",
                secret: true,
                problem: (v) => (/^[A-Za-z0-9+/]+=*$/.test(v) ? undefined : "expected the TSIG key's secret, in base64"),
            },
            algorithm: {
                key: "dns_rfc2136_algorithm",
                secret: false,
                problem: (v) => (TSIG_ALGORITHMS.includes(v.toUpperCase()) ? undefined : `expected one of ${TSIG_ALGORITHMS.join(", ")}`),
            },
        },
        shape: needs(["server", "name", "secret"]),
        propagation: true,
        file: "argument",
    },
    cloudflare: {
        image: "certbot/dns-cloudflare:latest",
        fields: {
            apiToken: { key: "dns_cloudflare_api_token", secret: true },
            email: {
                key: "dns_cloudflare_email",
                secret: false,
                problem: (v) => (EMAIL.test(v) ? undefined : "expected the account's e-mail address"),
            },
            apiKey: { key: "dns_cloudflare_api_key", secret: true },
        },
        shape: (given) =>
            given.has("apiToken")
                ? given.has("email") || given.has("apiKey")
                    ? "expected apiToken alone (email and apiKey are for a global API key instead)"
                    : undefined
                : given.has("email") && given.has("apiKey")
                  ? undefined
                  : "expected apiToken (recommended: a token with Zone:DNS:Edit), or email and apiKey",
        propagation: true,
        file: "argument",
    },
    route53: {
        image: "certbot/dns-route53:latest",
        fields: {
            accessKeyId: { key: "aws_access_key_id", secret: true },
            secretAccessKey: { key: "aws_secret_access_key", secret: true },
        },
        shape: (given) =>
            given.has("accessKeyId") === given.has("secretAccessKey")
                ? undefined
                : "expected both accessKeyId and secretAccessKey, or neither (the AWS SDK's default chain, e.g. an instance role)",
        propagation: false,
        file: "aws",
    },
};

/** The plugins' names, in PLUGINS' order (its type holds it to DnsPlugin, every one and no other). */
export const DNS_PLUGINS = Object.keys(PLUGINS) as DnsPlugin[];

/**
 * Parses acmeChallenge and, with `dns`, dnsPlugin, dnsCredentials and dnsPropagationSeconds;
 * with `http` those must be left unset.
 */
export function parseChallenge(
    f: Fields,
    defaults: { acmeChallenge: string; dnsPlugin: string; dnsPropagationSeconds: number },
): AcmeChallenge {
    const kind = f.text("acmeChallenge", defaults.acmeChallenge);
    const plugin = f.text("dnsPlugin", defaults.dnsPlugin);
    const seconds = f.int("dnsPropagationSeconds", defaults.dnsPropagationSeconds, 0, 3600);
    const credentials = f.map("dnsCredentials", {}, "a map of the DNS plugin's credential fields");
    if (kind !== "http" && kind !== "dns") {
        f.bad("acmeChallenge", kind, "http (port 80 reaches nginx) or dns (a TXT record through a DNS plugin)");
        return { kind: "http" };
    }
    if (kind === "http") {
        const unused = (key: string, given: boolean) => {
            if (given) f.problem(key, "only used with acmeChallenge dns (acmeChallenge is http)");
        };
        unused("dnsPlugin", plugin !== defaults.dnsPlugin);
        unused("dnsPropagationSeconds", seconds !== defaults.dnsPropagationSeconds);
        unused("dnsCredentials", Object.keys(credentials ?? {}).length > 0);
        return { kind: "http" };
    }
    if (!(DNS_PLUGINS as readonly string[]).includes(plugin)) {
        f.bad("dnsPlugin", plugin, `one of ${DNS_PLUGINS.join(", ")} with acmeChallenge dns`);
        return { kind: "http" };
    }
    const spec = PLUGINS[plugin as DnsPlugin];
    if (seconds !== 0 && !spec.propagation)
        f.problem("dnsPropagationSeconds", `expected 0: the ${plugin} plugin waits until the change has propagated itself`);
    return {
        kind: "dns",
        plugin: plugin as DnsPlugin,
        credentials: parseCredentials(f, plugin as DnsPlugin, credentials ?? {}),
        propagationSeconds: seconds === 0 ? undefined : seconds,
    };
}

function parseCredentials(f: Fields, plugin: DnsPlugin, value: Record<string, unknown>): Record<string, SecretValue> {
    const spec = PLUGINS[plugin];
    const v = f.within("dnsCredentials", value);
    const out: Record<string, SecretValue> = {};
    const check = (name: string) => credentialProblem(plugin, name);
    for (const [name, given] of Object.entries(value)) {
        const field = spec.fields[name];
        if (!field) {
            f.problem(
                "dnsCredentials",
                `unknown field ${show(name)} for the ${plugin} plugin; expected ${Object.keys(spec.fields).join(", ")}`,
            );
            continue;
        }
        const hint = `pulumi config set --secret --path dnsCredentials.${name} ...`;
        if (field.secret) {
            const secret = v.secret(name, given, check(name), hint);
            if (secret) out[name] = secret;
            continue;
        }
        const text = typeof given === "number" ? String(given) : v.text(name);
        if (text === undefined) continue;
        const wrong = check(name)(text);
        if (wrong) v.problem(name, `${wrong}, got ${v.given(name, text)}`);
        else out[name] = new Secret(text);
    }
    const shape = spec.shape(
        new Set(Object.keys(value).filter((k) => spec.fields[k] && value[k] !== "" && value[k] !== null && value[k] !== undefined)),
    );
    if (shape) f.problem("dnsCredentials", `${plugin}: ${shape}`);
    return out;
}

/** What is wrong with a value of a plugin's credential field (a known one), or undefined. */
export function credentialProblem(plugin: DnsPlugin, name: string): (text: string) => string | undefined {
    const field = PLUGINS[plugin].fields[name];
    return (text) => (VALUE.test(text) ? field.problem?.(text) : "expected 1-512 letters, digits or + / = . _ : @ -");
}
