// The registry's Docker resources, one named function each, as a host's declaration
// (components/registryHost.ts) calls them: volumes, images, and the registry, nginx and
// certbot containers; with Redis, the GC coordinator, and the Redis a host may run; with
// S3, its helper.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ACME_CA_PATH, certbotEnv, HEALTH_CHECK, LETSENCRYPT_DIR, PEBBLE_CA_DIR, renderRenewLoop, WEBROOT } from "../configs/certbot";
import {
    NGINX_AUTH_DIR,
    NGINX_CONF_DIR,
    NGINX_CONTROL_DIR,
    NGINX_HTTP_PORT,
    NGINX_HTTPS_PORT,
    renderNginxEntrypoint,
} from "../configs/nginx";
import {
    REGISTRY_CONFIG_PATH,
    REGISTRY_CONTROL_DIR,
    REGISTRY_DATA_DIR,
    REGISTRY_READONLY_CONFIG_PATH,
    REGISTRY_SOCKET_DIR,
    renderRegistryConfig,
    renderRegistrySupervisor,
    renderS3Keys,
    STOP_GRACE_SECONDS,
    storageFiles,
} from "../configs/registry";
import { DNS_CREDENTIALS_PATH, DNS_CREDENTIALS_PERMISSIONS, hasDnsCredentials, renderDnsCredentials } from "../configs/dns";
import { GC_COORDINATOR_PATH, GC_REDIS_PASSWORD_PATH, renderGcCoordinator } from "../configs/gc";
import { renderS3Helper, S3_HELPER_PATH } from "../configs/s3Helper";
import { s3HelperName } from "../configs/s3HelperProtocol";
import { NGINX_METRICS_PORT, renderMetricsCertificateCopy, renderMetricsRelay } from "../configs/metrics";
import { MIRROR_SOCKET_DIR } from "../configs/mirrors";
import { sendsNotifications } from "../configs/notifications";
import { REDIS_CA_PATH, REDIS_CONTAINER_PORT, REDIS_SERVER_CONF, redisPublishAddress, renderRedisServerConf } from "../configs/redis";
import { credentialProblem } from "../settings/acmeChallenge";
import { headerValueProblem } from "../settings/notifications";
import { redisPasswordProblem } from "../settings/redis";
import { keyProblem } from "../settings/storage";
import { HostSettings, Settings } from "../settings/types";
import { LocalAcmeServer } from "./localAcmeServer";
import { secretOutput } from "./secretOutput";

export type Labels = docker.types.input.ContainerLabel[];

export type Volumes = Record<"data" | "certs" | "webroot" | "conf" | "auth" | "control" | "socket", docker.Volume>;

/**
 * Registry data and certificates outlive containers, and `pulumi destroy` unless
 * retainVolumes is false; the others are rebuilt by `pulumi up`. The data volume stays with S3
 * storage too (mounted, unused: else the image's VOLUME makes an anonymous one), so switching
 * drivers never deletes it. Docker cannot relabel a volume, only replace it: labels are set
 * when a volume is created, and a later change of the labels setting never replaces it.
 */
export function declareVolumes(name: string, settings: Settings, labels: Labels, childOpts: pulumi.CustomResourceOptions): Volumes {
    const volume = (role: string, suffix: string, keep = false) =>
        new docker.Volume(
            `${name}-${role}`,
            { name: `${settings.namePrefix}-${suffix}`, labels },
            { ...childOpts, ignoreChanges: ["labels"], ...(keep ? { retainOnDelete: settings.retainVolumes } : {}) },
        );
    return {
        data: volume("data", "data", true),
        certs: volume("certs", "certs", true),
        webroot: volume("acme-webroot", "acme-webroot"),
        conf: volume("nginx-conf", "nginx-conf"),
        auth: volume("auth", "auth"),
        control: volume("registry-control", "registry-control"),
        // The registry's sockets: mounted by the registry and nginx, no one else.
        socket: volume("registry-socket", "registry-socket"),
    };
}

/** A tag is pulled once, when first declared; a new digest (name@sha256:...) is a new image. */
export function declareImages(
    name: string,
    settings: Settings,
    childOpts: pulumi.CustomResourceOptions,
): Record<"registry" | "nginx" | "certbot", docker.RemoteImage> {
    const image = (role: string, ref: string) =>
        new docker.RemoteImage(`${name}-${role}-image`, { name: ref, keepLocally: true }, childOpts);
    return {
        registry: image("registry", settings.images.registry),
        nginx: image("nginx", settings.images.nginx),
        certbot: image("certbot", settings.images.certbot),
    };
}

// Containers have fixed names and published ports: deleted before they are replaced.
const replaced = (childOpts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => ({ ...childOpts, deleteBeforeReplace: true });

interface ContainerParts {
    labels: Labels;
    network: docker.Network;
    volumes: Volumes;
    image: docker.RemoteImage;
}

/** Redis' password as a secret Output, when it has one. */
export function redisPassword(settings: Settings): pulumi.Output<string> | undefined {
    const password = settings.redis?.password;
    return password && secretOutput(password, "redis.password", redisPasswordProblem);
}

/** The files of the containers that talk to Redis: the private CA of its certificate. */
function redisCaUploads(settings: Settings): docker.types.input.ContainerUpload[] {
    const ca = settings.redis?.tls ? settings.redis.caCertificate : undefined;
    return ca ? [{ file: REDIS_CA_PATH, content: ca }] : [];
}

/** The values of each notification endpoint's headers, as secret Outputs (configs/notifications.ts). */
function notificationHeaders(settings: Settings): pulumi.Output<string[][]> {
    return pulumi.all(
        settings.notifications.map((e, i) =>
            pulumi.all(
                Object.entries(e.headers).map(([header, value]) =>
                    secretOutput(value, `notifications[${i}].headers.${header}`, headerValueProblem),
                ),
            ),
        ),
    );
}

/**
 * S3 storage: the keys as a root-only file (a secret in state; config.yml names no key), and
 * the endpoint's private CA. The registry and the S3 retention helper get the same files.
 */
function s3Uploads(settings: Settings): docker.types.input.ContainerUpload[] {
    const files = storageFiles(settings.storage);
    const keys = files.keys;
    return [
        ...(keys
            ? [
                  {
                      file: keys.path,
                      permissions: keys.permissions,
                      content: pulumi.secret(
                          pulumi
                              .all([
                                  secretOutput(keys.accessKey, "storage.accessKey", keyProblem(128)),
                                  secretOutput(keys.secretKey, "storage.secretKey", keyProblem(256)),
                              ])
                              .apply(([accessKey, secretKey]) => renderS3Keys(accessKey, secretKey)),
                      ),
                  },
              ]
            : []),
        ...(files.ca ? [{ file: files.ca.path, content: files.ca.content }] : []),
    ];
}

/** The registry: the supervisor that serves it and runs garbage collection safely (configs/registry.ts). */
export function registryContainer(
    name: string,
    settings: Settings,
    parts: ContainerParts & { httpSecret: pulumi.Output<string>; after: pulumi.Resource[] },
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    const storageUploads = [...s3Uploads(settings), ...redisCaUploads(settings)];
    const secrets = pulumi.all([parts.httpSecret, redisPassword(settings), notificationHeaders(settings)]);
    const config = (mode: "read-write" | "read-only") =>
        pulumi.secret(secrets.apply(([secret, redis, headers]) => renderRegistryConfig(settings, secret, mode, redis, headers)));
    return new docker.Container(
        `${name}-registry`,
        {
            name: `${settings.namePrefix}-registry`,
            image: parts.image.imageId,
            entrypoints: ["/bin/sh", "-c"],
            // With metrics, their relay to nginx runs beside the supervisor (configs/metrics.ts).
            command: [renderMetricsRelay(settings) + renderRegistrySupervisor(settings)],
            uploads: [
                { file: REGISTRY_CONFIG_PATH, content: config("read-write") },
                { file: REGISTRY_READONLY_CONFIG_PATH, content: config("read-only") },
                ...storageUploads,
            ],
            // It listens on no TCP port, only on sockets in a volume nginx alone shares. With
            // its data volume it needs no network at all; S3 needs a way out to the bucket, and
            // notifications one to their webhooks.
            ...(settings.storage.driver === "s3" || sendsNotifications(settings)
                ? { networksAdvanced: [{ name: parts.network.name }] }
                : { networkMode: "none" }),
            volumes: [
                { volumeName: parts.volumes.data.name, containerPath: REGISTRY_DATA_DIR },
                { volumeName: parts.volumes.control.name, containerPath: REGISTRY_CONTROL_DIR },
                { volumeName: parts.volumes.socket.name, containerPath: REGISTRY_SOCKET_DIR },
            ],
            // Stopped or replaced: in-flight requests finish first (the registry's drain timeout).
            stopTimeout: STOP_GRACE_SECONDS,
            destroyGraceSeconds: STOP_GRACE_SECONDS,
            restart: "unless-stopped",
            labels: parts.labels,
        },
        // Several hosts: this host's turn comes once the one before it serves again (a rolling
        // update), and once its Redis is proven.
        { ...replaced(childOpts), ...(parts.after.length ? { dependsOn: parts.after } : {}) },
    );
}

/** The nginx container's name, which is also its name on the stack's network. */
export function nginxName(settings: Pick<Settings, "namePrefix">): string {
    return `${settings.namePrefix}-nginx`;
}

/** nginx: TLS, basic auth, the only way to the registry; it always starts, HTTP-only if it must. */
export function nginxContainer(
    name: string,
    settings: Settings,
    parts: ContainerParts & { registry: docker.Container; mirrorSocket?: docker.Volume },
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    return new docker.Container(
        `${name}-nginx`,
        {
            name: nginxName(settings),
            image: parts.image.imageId,
            entrypoints: ["/bin/sh", "-c"],
            // With metrics, a copy of the certificate its workers can read (configs/metrics.ts).
            command: [renderMetricsCertificateCopy(settings) + renderNginxEntrypoint()],
            // Port 80 stays unpublished on a private network (httpPort 0, DNS-01).
            ports: [
                ...(settings.publish.httpPort === undefined
                    ? []
                    : [{ internal: NGINX_HTTP_PORT, external: settings.publish.httpPort, ip: settings.publish.bindAddress }]),
                { internal: NGINX_HTTPS_PORT, external: settings.publish.httpsPort, ip: settings.publish.bindAddress },
                // The scrape endpoint, on its own address and port (configs/metrics.ts).
                ...(settings.metrics.enabled
                    ? [{ internal: NGINX_METRICS_PORT, external: settings.metrics.port, ip: settings.metrics.bindAddress }]
                    : []),
            ],
            // No aliases: a local Pebble finds nginx by its name (LocalAcmeServer's resolver), so the
            // domain is not among nginx's settings and a new one replaces no container.
            networksAdvanced: [{ name: parts.network.name }],
            volumes: [
                { volumeName: parts.volumes.conf.name, containerPath: NGINX_CONF_DIR },
                { volumeName: parts.volumes.auth.name, containerPath: NGINX_AUTH_DIR },
                { volumeName: parts.volumes.certs.name, containerPath: LETSENCRYPT_DIR, readOnly: true },
                { volumeName: parts.volumes.webroot.name, containerPath: WEBROOT, readOnly: true },
                { volumeName: parts.volumes.control.name, containerPath: NGINX_CONTROL_DIR, readOnly: true },
                { volumeName: parts.volumes.socket.name, containerPath: REGISTRY_SOCKET_DIR },
                // With mirrors (components/mirrors.ts): their sockets.
                ...(parts.mirrorSocket ? [{ volumeName: parts.mirrorSocket.name, containerPath: MIRROR_SOCKET_DIR }] : []),
            ],
            // Stopped or replaced: a graceful shutdown (QUIT) lets in-flight transfers finish.
            stopSignal: "SIGQUIT",
            stopTimeout: STOP_GRACE_SECONDS,
            destroyGraceSeconds: STOP_GRACE_SECONDS,
            restart: "unless-stopped",
            labels: parts.labels,
        },
        { ...replaced(childOpts), dependsOn: [parts.registry] },
    );
}

/**
 * The certbot container's files: a custom CA's root, which certbot trusts for its ACME server,
 * and the DNS plugin's credentials, root-only (a secret in state; no argument or variable holds them).
 */
function certbotUploads(settings: Settings): docker.types.input.ContainerUpload[] {
    const uploads: docker.types.input.ContainerUpload[] = [];
    if (settings.acme.caCertificate) uploads.push({ file: ACME_CA_PATH, content: settings.acme.caCertificate });
    const challenge = settings.acme.challenge;
    if (hasDnsCredentials(challenge)) {
        const fields = Object.entries(challenge.credentials);
        const values = fields.map(([field, value]) =>
            secretOutput(value, `dnsCredentials.${field}`, credentialProblem(challenge.plugin, field)),
        );
        uploads.push({
            file: DNS_CREDENTIALS_PATH,
            permissions: DNS_CREDENTIALS_PERMISSIONS,
            content: pulumi.secret(
                pulumi
                    .all(values)
                    .apply((texts) => renderDnsCredentials(challenge.plugin, Object.fromEntries(fields.map(([f], i) => [f, texts[i]])))),
            ),
        });
    }
    return uploads;
}

/** certbot: the renew loop; a renewed certificate reaches nginx through the certificates volume alone. */
export function certbotContainer(
    name: string,
    settings: Settings,
    parts: ContainerParts & { acme?: LocalAcmeServer },
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    const uploads = certbotUploads(settings);
    return new docker.Container(
        `${name}-certbot`,
        {
            name: `${settings.namePrefix}-certbot`,
            image: parts.image.imageId,
            entrypoints: ["/bin/sh", "-c"],
            command: [renderRenewLoop(settings)],
            envs: certbotEnv(settings),
            ...(uploads.length ? { uploads } : {}),
            // Unhealthy when the certificate is missing or within certificateWarningDays of expiry.
            healthcheck: { tests: ["CMD", HEALTH_CHECK], interval: "30s", timeout: "20s", retries: 1 },
            networksAdvanced: [{ name: parts.network.name }],
            volumes: [
                { volumeName: parts.volumes.certs.name, containerPath: LETSENCRYPT_DIR },
                { volumeName: parts.volumes.webroot.name, containerPath: WEBROOT },
                ...(parts.acme ? [{ volumeName: parts.acme.certsVolume, containerPath: PEBBLE_CA_DIR, readOnly: true }] : []),
            ],
            restart: "unless-stopped",
            labels: parts.labels,
        },
        { ...replaced(childOpts), dependsOn: parts.acme ? [parts.acme] : [] },
    );
}

/**
 * The GC coordinator (configs/gc.ts): beside the registry, sharing its control volume, talking
 * to Redis. `node` is the host's name. Redis' password is a root-only file (a secret in state).
 */
export function gcCoordinatorContainer(
    name: string,
    settings: Settings,
    node: string,
    parts: ContainerParts & { redis?: docker.Container },
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    const password = redisPassword(settings);
    return new docker.Container(
        `${name}-gc-coordinator`,
        {
            name: `${settings.namePrefix}-gc-coordinator`,
            image: parts.image.imageId,
            entrypoints: ["python3", "-u", GC_COORDINATOR_PATH],
            uploads: [
                { file: GC_COORDINATOR_PATH, content: renderGcCoordinator(settings, node) },
                ...(password ? [{ file: GC_REDIS_PASSWORD_PATH, permissions: "0400", content: password }] : []),
                ...redisCaUploads(settings),
            ],
            networksAdvanced: [{ name: parts.network.name }],
            volumes: [{ volumeName: parts.volumes.control.name, containerPath: REGISTRY_CONTROL_DIR }],
            restart: "unless-stopped",
            labels: parts.labels,
        },
        { ...replaced(childOpts), dependsOn: parts.redis ? [parts.redis] : [] },
    );
}

/**
 * The S3 helper (configs/s3HelperProtocol.ts): the registry's supervisor asks it, through the
 * control volume, to list the tags with their push times, to delete the planned ones and to
 * list the blobs' sizes; with metrics on it lists the blobs for the endpoint on its own. It
 * reaches the bucket with the registry's keys and CA.
 */
export function s3HelperContainer(
    name: string,
    settings: Settings,
    parts: ContainerParts,
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    return new docker.Container(
        `${name}-s3-helper`,
        {
            name: s3HelperName(settings),
            image: parts.image.imageId,
            entrypoints: ["python3", "-u", S3_HELPER_PATH],
            uploads: [{ file: S3_HELPER_PATH, content: renderS3Helper(settings) }, ...s3Uploads(settings)],
            networksAdvanced: [{ name: parts.network.name }],
            volumes: [{ volumeName: parts.volumes.control.name, containerPath: REGISTRY_CONTROL_DIR }],
            restart: "unless-stopped",
            labels: parts.labels,
        },
        replaced(childOpts),
    );
}

/**
 * The Redis this program runs (redis.runOn) on `host`: a cache behind a password, published on
 * redis.address's IP alone, where the hosts reach it (never on every interface). Nothing kept
 * on disk: losing it loses a cache and, mid-GC, the GC's lock (the hosts then resume writes).
 */
export function redisContainer(
    name: string,
    settings: Settings,
    host: HostSettings,
    labels: Labels,
    childOpts: pulumi.CustomResourceOptions,
): docker.Container {
    const redis = settings.redis!;
    const password = redisPassword(settings)!;
    const image = new docker.RemoteImage(`${name}-redis-image`, { name: settings.images.redis, keepLocally: true }, childOpts);
    return new docker.Container(
        `${name}-redis`,
        {
            name: `${host.namePrefix}-redis`,
            image: image.imageId,
            entrypoints: ["redis-server"],
            command: [REDIS_SERVER_CONF],
            user: "redis",
            // Readable by the redis user it runs as, inside this container only.
            uploads: [{ file: REDIS_SERVER_CONF, permissions: "0444", content: pulumi.secret(password.apply(renderRedisServerConf)) }],
            ports: [{ internal: REDIS_CONTAINER_PORT, external: redis.port, ip: redisPublishAddress(redis) }],
            restart: "unless-stopped",
            labels,
        },
        replaced(childOpts),
    );
}
