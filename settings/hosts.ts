// Several Docker hosts serving one registry: the `hosts` list, parsed and validated, and each
// host's own settings (the same stack on its own engine, its own names and ports). Pure.
//
// Every host runs nginx, the registry and certbot against the shared S3 bucket, with one
// http.secret and one Redis. Each host's certificate carries the shared name plus the host's
// own (`node-1.registry.example.com`), so no two hosts ask the CA for the same set of names.
import { isIP } from "node:net";
import { DEFAULTS } from "./defaults";
import type { Fields } from "./fields";
import { pemCertificates } from "./pem";
import { show } from "./show";
import type { DockerTls, HostSettings, Settings } from "./types";
import { dockerHostProblem, DOCKER_NAME, ipScope, isValidDomain, splitHostPort } from "./validators";

/** What is wrong with a PEM private key, or undefined. */
export function keyPemProblem(text: string): string | undefined {
    return /^-----BEGIN (EC |RSA )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END (EC |RSA )?PRIVATE KEY-----\s*$/.test(text.trim())
        ? undefined
        : "expected a PEM private key (-----BEGIN PRIVATE KEY----- ...)";
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const HOST_FIELDS = ["name", "dockerHost", "bindAddress", "httpPort", "httpsPort", "metricsBindAddress", "metricsPort", "tls"];
const TLS_FIELDS = ["caCertificate", "certificate", "key"];
const HOST_SHAPE = "{ name, dockerHost, bindAddress?, httpPort?, httpsPort?, metricsBindAddress?, metricsPort?, tls? }";
const HOSTS_EXPECTED = `a list of ${HOST_SHAPE}, e.g. \`pulumi config set --path 'hosts[0].name' node-1\``;

/**
 * The `hosts` list (empty: one host, the top-level dockerHost). Each host's bindAddress and
 * ports default to the top-level ones. Two hosts on one engine must not publish the same port.
 */
export function parseHosts(f: Fields, base: Pick<Settings, "domain" | "namePrefix" | "publish">): HostSettings[] {
    const list = f.list("hosts", [], HOSTS_EXPECTED) ?? [];
    const hosts: HostSettings[] = [];
    list.forEach((given, i) => {
        const at = `hosts[${i}]`;
        if (typeof given !== "object" || given === null || Array.isArray(given)) {
            f.problem(at, `expected ${HOST_SHAPE}`);
            return;
        }
        const h = f.within(at, given as Record<string, unknown>);
        for (const k of Object.keys(given)) if (!HOST_FIELDS.includes(k)) h.problem(k, `unknown field; expected ${HOST_FIELDS.join(", ")}`);
        const name = h.text("name") ?? "";
        const namePrefix = `${base.namePrefix}-${name}`;
        if (!HOST_NAME.test(name)) h.bad("name", name, "a DNS label of 1-32 lower-case letters, digits or '-', such as node-1");
        else if (hosts.some((o) => o.name === name)) h.problem("name", `${show(name)} is listed twice`);
        else if (!isValidDomain(`${name}.${base.domain}`)) h.problem("name", `${show(`${name}.${base.domain}`)} is not a valid host name`);
        else if (!DOCKER_NAME.test(namePrefix))
            h.problem("name", `${show(namePrefix)} (namePrefix-name) must be at most 41 characters: shorten namePrefix or the name`);
        const dockerHost = h.text("dockerHost");
        const tls = parseDockerTls(h, (given as Record<string, unknown>).tls);
        if (dockerHost === undefined)
            h.problem(
                "dockerHost",
                "required: the host's Docker daemon, unix:///var/run/docker.sock, ssh://user@host or tcp://host:2376 with tls",
            );
        else if (dockerHost.startsWith("tcp://")) {
            if (!splitHostPort(dockerHost.slice("tcp://".length)))
                h.bad("dockerHost", dockerHost, "tcp://host:port (the daemon's TLS port, usually 2376)");
            else if (!tls)
                h.problem(
                    "dockerHost",
                    "tcp:// needs tls { caCertificate, certificate, key }: without it the Docker API (and this stack's secrets) would travel unauthenticated and in clear",
                );
        } else {
            const wrong = dockerHostProblem(dockerHost);
            if (wrong) h.bad("dockerHost", dockerHost, wrong);
            if (tls) h.problem("tls", "only used with a tcp:// dockerHost");
        }
        const bindAddress = h.text("bindAddress", base.publish.bindAddress);
        if (isIP(bindAddress) === 0) h.bad("bindAddress", bindAddress, "an IP address such as 0.0.0.0 or 10.0.0.5");
        const httpPort = h.int("httpPort", base.publish.httpPort ?? 0, 0, 65535);
        const httpsPort = h.int("httpsPort", base.publish.httpsPort, 1, 65535);
        if (httpPort === httpsPort) h.bad("httpsPort", String(httpsPort), `a port different from httpPort (${httpPort})`);
        if (httpPort !== 0 && base.publish.httpPort === undefined)
            h.problem("httpPort", "expected 0 while the top-level httpPort is 0 (port 80 unpublished)");
        // Its scrape endpoint's address and port; the top-level metrics ones when absent (settings/metrics.ts).
        const own = given as Record<string, unknown>;
        const metricsBindAddress = own.metricsBindAddress === undefined ? undefined : h.text("metricsBindAddress", "");
        if (metricsBindAddress !== undefined && isIP(metricsBindAddress) === 0)
            h.bad("metricsBindAddress", metricsBindAddress, "an IP address of this host such as 127.0.0.1 or 10.0.0.5");
        const metricsPort = own.metricsPort === undefined ? undefined : h.int("metricsPort", 0, 1, 65535);
        hosts.push({
            name,
            fqdn: `${name}.${base.domain}`,
            dockerHost: dockerHost ?? "",
            namePrefix,
            publish: { bindAddress, httpPort: httpPort === 0 ? undefined : httpPort, httpsPort },
            metricsPublish: { bindAddress: metricsBindAddress, port: metricsPort },
            tls,
        });
    });
    hosts.forEach((a, i) => {
        const other = hosts.slice(0, i).find((b) => b.dockerHost === a.dockerHost && sharesPort(a.publish, b.publish));
        if (other)
            f.problem(
                `hosts[${i}]`,
                `publishes a port ${show(other.name)} publishes on the same Docker host; give it other ports or another bindAddress`,
            );
    });
    return hosts;
}

/** A host's `tls`: the daemon's CA and this client's certificate (PEM), and its key (PEM, a secret). */
function parseDockerTls(h: Fields, value: unknown): DockerTls | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "object" || Array.isArray(value)) {
        h.problem("tls", "expected { caCertificate, certificate, key }");
        return undefined;
    }
    const t = h.within("tls", value as Record<string, unknown>);
    for (const k of Object.keys(value)) if (!TLS_FIELDS.includes(k)) t.problem(k, `unknown field; expected ${TLS_FIELDS.join(", ")}`);
    const pem = (field: string) => {
        const text = pemCertificates(t.text(field));
        if (text === undefined) t.problem(field, "expected a PEM certificate (-----BEGIN CERTIFICATE----- ...)");
        return text ?? "";
    };
    const caCertificate = pem("caCertificate");
    const certificate = pem("certificate");
    const given = (value as Record<string, unknown>).key;
    const key = t.secret("key", given, keyPemProblem, "pulumi config set --secret --path 'hosts[i].tls.key' < key.pem");
    if (given === undefined || given === null || given === "")
        t.problem("key", "required: the client's private key (PEM), stored as a secret");
    return key ? { caCertificate, certificate, key } : undefined;
}

/** A port published on an address. */
type Published = { bindAddress: string; port: number };

/** nginx's published ports (port 80 may be unpublished). */
function publishedPorts(p: Settings["publish"]): Published[] {
    return [p.httpPort, p.httpsPort].flatMap((port) => (port === undefined ? [] : [{ bindAddress: p.bindAddress, port }]));
}

/** Two published ports clash on one engine: the same port on the same address, or with either on every address. */
function clash(a: Published, b: Published): boolean {
    return (
        a.port === b.port && (a.bindAddress === b.bindAddress || [a.bindAddress, b.bindAddress].some((x) => x === "0.0.0.0" || x === "::"))
    );
}

function sharesPort(a: Settings["publish"], b: Settings["publish"]): boolean {
    return publishedPorts(a).some((x) => publishedPorts(b).some((y) => clash(x, y)));
}

/**
 * What `hosts` asks of the other settings, as [key, problem]: each host's own name is on its
 * certificate (so not in `domains`, and one fewer extra name fits), its dockerHost replaces the
 * top-level one; and what several hosts need (about/deploying.md in distribution): one bucket,
 * one Redis for the descriptor cache and GC's coordination, and DNS-01 (HTTP-01 would reach
 * whichever host the name points at, not the one asking).
 */
export function hostsProblems(
    s: Pick<Settings, "hosts" | "storage" | "acme" | "redis" | "dockerHost" | "domains" | "metrics">,
): [string, string][] {
    if (s.hosts.length === 0) return [];
    const problems: [string, string][] = [...hostsMetricsProblems(s)];
    if (s.dockerHost !== DEFAULTS.dockerHost)
        problems.push(["dockerHost", "not used with hosts: set each host's dockerHost (hosts[i].dockerHost)"]);
    if (s.domains.length > 98)
        problems.push([
            "domains",
            `expected at most 98 extra names with hosts (each host's own name is on its certificate too), got ${s.domains.length}`,
        ]);
    for (const h of s.hosts)
        if (s.domains.includes(h.fqdn)) problems.push(["domains", `${show(h.fqdn)} is a host's own name, on its certificate already`]);
    if (s.hosts.length < 2) return problems;
    const why = `with ${s.hosts.length} hosts`;
    if (s.storage.driver !== "s3") problems.push(["storage", `expected driver s3 ${why}: every host must serve the same blobs`]);
    if (s.acme.challenge.kind !== "dns")
        problems.push(["acmeChallenge", `expected dns ${why}: an HTTP-01 challenge reaches whichever host the name points at`]);
    if (!s.redis)
        problems.push(["redis", `required ${why}: the hosts share the blob descriptor cache and coordinate garbage collection there`]);
    return problems;
}

/** A host's scrape endpoint: its own metricsBindAddress and metricsPort, or the top-level ones. */
function hostMetrics(metrics: Settings["metrics"], h: HostSettings): Settings["metrics"] {
    return { ...metrics, bindAddress: h.metricsPublish.bindAddress ?? metrics.bindAddress, port: h.metricsPublish.port ?? metrics.port };
}

/**
 * With metrics on, each host's scrape endpoint: apart from its own ports, from every port
 * another host publishes on the same Docker host, and behind the password off loopback.
 */
function hostsMetricsProblems(s: Pick<Settings, "hosts" | "metrics">): [string, string][] {
    if (!s.metrics.enabled) return [];
    const problems: [string, string][] = [];
    const scrape = (h: HostSettings): Published => {
        const m = hostMetrics(s.metrics, h);
        return { bindAddress: m.bindAddress, port: m.port };
    };
    s.hosts.forEach((h, i) => {
        const at = `hosts[${i}]`;
        const mine = scrape(h);
        if ([h.publish.httpPort, h.publish.httpsPort].includes(mine.port))
            problems.push([`${at}.metricsPort`, `expected a port apart from the host's httpPort and httpsPort, got ${mine.port}`]);
        if (h.metricsPublish.bindAddress !== undefined && s.metrics.password === undefined && ipScope(mine.bindAddress) !== "loopback")
            problems.push([
                `${at}.metricsBindAddress`,
                `${show(mine.bindAddress)} is not a loopback address: set metrics.password (\`pulumi config set --secret --path metrics.password ...\`), or anyone who reaches it could read the metrics`,
            ]);
        const other = s.hosts.slice(0, i).find((o) => {
            if (o.dockerHost !== h.dockerHost) return false;
            const theirs = scrape(o);
            return (
                [...publishedPorts(o.publish), theirs].some((p) => clash(p, mine)) ||
                publishedPorts(h.publish).some((p) => clash(p, theirs))
            );
        });
        if (other)
            problems.push([
                at,
                `its metrics endpoint (${mine.bindAddress}:${mine.port}) and ${show(other.name)} share a port on the same Docker host; give one of them its own metricsPort or metricsBindAddress`,
            ]);
    });
    return problems;
}

/** One host's settings: the shared ones, with its engine, names and ports. */
export function hostSettings(s: Settings, h: HostSettings): Settings {
    return {
        ...s,
        dockerHost: h.dockerHost,
        dockerTls: h.tls,
        namePrefix: h.namePrefix,
        publish: h.publish,
        metrics: s.metrics.enabled ? hostMetrics(s.metrics, h) : s.metrics,
        domains: [...s.domains, h.fqdn],
    };
}
