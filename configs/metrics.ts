// The Prometheus scrape endpoint: nginx serves /metrics on a port of its own (its server and
// njs module, installed like every nginx config: staged, `nginx -t`, renamed, reloaded), and
// the registry container relays distribution's metrics (its debug server, on the container's
// loopback) and the data volume's usage to it through a file in the socket volume, which only
// the two share. The module also reads the authentication module's counters (a shared zone of
// nginx.conf) and the supervisor's last GC and retention results (the control volume). Pure:
// settings in, text out.
import { createHash } from "node:crypto";
import { METRICS_USER } from "../settings/metrics";
import { Settings } from "../settings/types";
import { AUTH_ZONES } from "./auth";
import { LIVE_CERTIFICATE_DIR, RENEWAL_STATUS } from "./certificates";
import { renderConfigInstall, StagedFile } from "./install";
import { NGINX_CONTROL_DIR, NGINX_INCLUDE_DIRS } from "./nginx";
import { NGINX_METRICS_PORT } from "./ports";
import { GC_FLAG, GC_LAST, GC_RESULT, GC_SCHEDULE, REGISTRY_DATA_DIR, REGISTRY_DEBUG_ADDR, REGISTRY_SOCKET_DIR } from "./registry";
import { RETENTION_RESULT } from "./retention";
import { S3_HELPER_FILES } from "./s3HelperProtocol";
import { renderTemplate } from "./template";

export { NGINX_METRICS_PORT } from "./ports";
/** What the registry container relays, in the socket volume (both containers see it at the same path). */
export const METRICS_RELAY_FILE = `${REGISTRY_SOCKET_DIR}/metrics.prom`;
/** Where nginx's container keeps a copy of the served certificate its workers can read. */
export const METRICS_CERTIFICATE_DIR = "/tmp/registry-metrics";
/** How often the relay refreshes it: a scrape sees values at most this old. */
export const METRICS_RELAY_SECONDS = 5;
const MODULE = "registry_metrics";
const MODULE_PATH = `${NGINX_INCLUDE_DIRS.njs}/registry-metrics.js`;
const SERVER_PATH = `${NGINX_INCLUDE_DIRS.servers}/20-metrics.conf`;
const ZONE = "registry_metrics";
const VARIABLES = {
    countVariable: "registry_metrics_count",
    relayVariable: "registry_metrics_relay",
    controlVariable: "registry_metrics_control",
    certificateVariable: "registry_metrics_certificate",
    passwordVariable: "registry_metrics_password_sha256",
};

/**
 * SHA-256 of `metrics:<password>`, the decoded Basic credentials the endpoint accepts; "" for
 * none (loopback only). A hash of a secret: handle it as one.
 */
export function metricsCredentialHash(password: string | undefined): string {
    return password === undefined ? "" : createHash("sha256").update(`${METRICS_USER}:${password}`).digest("hex");
}

/** The endpoint's files: its server (with the counters, at the http level) and its njs module. */
export function renderMetricsFiles(s: Pick<Settings, "stack">, passwordSha256: string): StagedFile[] {
    if (!/^([0-9a-f]{64})?$/.test(passwordSha256)) throw new Error("metrics credential hash must be a SHA-256 hex digest");
    const view = {
        stack: s.stack,
        module: MODULE,
        modulePath: MODULE_PATH,
        zone: ZONE,
        port: NGINX_METRICS_PORT,
        relayFile: METRICS_RELAY_FILE,
        controlDir: NGINX_CONTROL_DIR,
        certificateFile: `${METRICS_CERTIFICATE_DIR}/cert.pem`,
        passwordSha256,
        renewalStatus: RENEWAL_STATUS,
        gcFlag: GC_FLAG,
        gcLast: GC_LAST,
        gcSchedule: GC_SCHEDULE,
        gcResult: GC_RESULT,
        retentionResult: RETENTION_RESULT,
        s3Storage: S3_HELPER_FILES.storage,
        authCountersZone: AUTH_ZONES.counters.name,
        ...VARIABLES,
    };
    return [
        { path: SERVER_PATH, content: renderTemplate("metrics-server.conf.mustache", view) },
        { path: MODULE_PATH, content: renderTemplate("registry-metrics.js.mustache", view) },
    ];
}

/** Installs the endpoint into the running nginx (configs/install.ts). Secret: it holds the credential's hash. */
export function renderMetricsInstall(s: Pick<Settings, "stack">, passwordSha256: string): string {
    return renderConfigInstall("metrics endpoint", renderMetricsFiles(s, passwordSha256));
}

/** The nginx container's shell lines that keep the certificate's copy, before its entrypoint; "" with metrics off. */
export function renderMetricsCertificateCopy(s: Pick<Settings, "metrics">): string {
    if (!s.metrics.enabled) return "";
    return renderTemplate("metrics-certificate.sh.mustache", {
        intervalSeconds: 10,
        dir: METRICS_CERTIFICATE_DIR,
        source: `${LIVE_CERTIFICATE_DIR}/cert.pem`,
    });
}

/** The relay's shell lines, started in the background before the registry's supervisor; "" with metrics off. */
export function renderMetricsRelay(s: Pick<Settings, "metrics" | "storage">): string {
    if (!s.metrics.enabled) return "";
    return renderTemplate("metrics-relay.sh.mustache", {
        intervalSeconds: METRICS_RELAY_SECONDS,
        debugAddr: REGISTRY_DEBUG_ADDR,
        filesystem: s.storage.driver === "filesystem",
        dataDir: REGISTRY_DATA_DIR,
        file: METRICS_RELAY_FILE,
    });
}
