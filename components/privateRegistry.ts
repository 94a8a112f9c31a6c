// PrivateRegistry: a Docker registry behind nginx with ACME TLS and basic auth, on one
// Docker host; only nginx reaches the registry (through a socket volume). Reads top to bottom like the architecture: host, network, volumes, images,
// registry, nginx, (Pebble), certbot, then the storage check, the certificate bootstrap and
// the users.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ACME_CA_PATH, certbotEnv, HEALTH_CHECK, LETSENCRYPT_DIR, PEBBLE_CA_DIR, renderRenewLoop, WEBROOT } from "../configs/certbot";
import { NGINX_AUTH_DIR, NGINX_CONF_DIR, NGINX_CONTROL_DIR, publicHost, renderNginxEntrypoint } from "../configs/nginx";
import {
    REGISTRY_CONFIG_PATH,
    REGISTRY_CONTROL_DIR,
    REGISTRY_DATA_DIR,
    REGISTRY_READONLY_CONFIG_PATH,
    REGISTRY_SOCKET_DIR,
    renderRegistryConfig,
    STOP_GRACE_SECONDS,
    renderRegistrySupervisor,
    renderStorageCheck,
    storageFiles,
} from "../configs/registry";
import { Settings } from "../configs/settings";
import { containerScript } from "./dockerCommand";
import { Htpasswd } from "./htpasswd";
import { LocalAcmeServer } from "./localAcmeServer";
import { TlsCertificate } from "./tlsCertificate";

export interface PrivateRegistryArgs {
    /** Validated stack settings (configs/settings.ts). */
    settings: Settings;
}

export class PrivateRegistry extends pulumi.ComponentResource {
    /** `https://<host>`: the registry's address. */
    public readonly url: pulumi.Output<string>;
    /** Host (and port) to tag images with: `docker push <host>/team/app:1`. */
    public readonly host: pulumi.Output<string>;
    public readonly userNames: pulumi.Output<string[]>;
    /** Passwords by user name (secret). */
    public readonly passwords: pulumi.Output<Record<string, string>>;
    /** Docker config JSON (`~/.docker/config.json`) for the first user (secret). */
    public readonly dockerConfigJson: pulumi.Output<string>;
    /** PEM root of the issuing CA when it is not publicly trusted (local Pebble stacks). */
    public readonly caRoot: pulumi.Output<string | undefined>;
    public readonly certificateExpiry: pulumi.Output<string>;
    public readonly volumes: pulumi.Output<{ data: string; certificates: string }>;

    constructor(name: string, args: PrivateRegistryArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("registry:index:PrivateRegistry", name, {}, opts);
        const s = args.settings;
        const p = s.namePrefix;
        const labels = [
            { label: "org.opencontainers.image.vendor", value: "private-registry" },
            { label: "private-registry.stack", value: s.stack },
            ...Object.entries(s.labels).map(([label, value]) => ({ label, value })),
        ];

        const provider = new docker.Provider(`${name}-docker`, { host: s.dockerHost }, { parent: this });
        const o = { parent: this, provider };

        // Docker cannot relabel a network or a volume, only replace it: their labels are set
        // when they are created, and a later change of the labels setting never replaces them.
        const labelledOnce = { ...o, ignoreChanges: ["labels"] };
        const network = new docker.Network(`${name}-network`, { name: `${p}-net`, driver: "bridge", labels }, labelledOnce);

        // Registry data and certificates outlive containers, and `pulumi destroy` unless
        // retainVolumes is false. The others are rebuilt by `pulumi up`. The data volume stays
        // with S3 storage too (mounted, unused: else the image's VOLUME makes an anonymous one),
        // so switching drivers never deletes it.
        const keep = { ...labelledOnce, retainOnDelete: s.retainVolumes };
        const dataVolume = new docker.Volume(`${name}-data`, { name: `${p}-data`, labels }, keep);
        const certsVolume = new docker.Volume(`${name}-certs`, { name: `${p}-certs`, labels }, keep);
        const webrootVolume = new docker.Volume(`${name}-acme-webroot`, { name: `${p}-acme-webroot`, labels }, labelledOnce);
        const confVolume = new docker.Volume(`${name}-nginx-conf`, { name: `${p}-nginx-conf`, labels }, labelledOnce);
        const authVolume = new docker.Volume(`${name}-auth`, { name: `${p}-auth`, labels }, labelledOnce);
        const controlVolume = new docker.Volume(`${name}-registry-control`, { name: `${p}-registry-control`, labels }, labelledOnce);
        // The registry's sockets: mounted by the registry and nginx, no one else.
        const socketVolume = new docker.Volume(`${name}-registry-socket`, { name: `${p}-registry-socket`, labels }, labelledOnce);

        // A tag is pulled once, when first declared; a new digest (name@sha256:...) is a new image.
        const image = (role: string, ref: string) => new docker.RemoteImage(`${name}-${role}-image`, { name: ref, keepLocally: true }, o);
        const registryImage = image("registry", s.images.registry);
        const nginxImage = image("nginx", s.images.nginx);
        const certbotImage = image("certbot", s.images.certbot);

        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this });

        // Containers have fixed names and published ports: delete before replace.
        const replace = { ...o, deleteBeforeReplace: true };

        // S3 keys reach the registry as a root-only file (a secret in state); config.yml names no key.
        const storageUploads = storageFiles(s.storage).map((f) => ({
            file: f.path,
            content: f.secret ? pulumi.secret(f.content) : f.content,
            ...(f.permissions ? { permissions: f.permissions } : {}),
        }));

        const registry = new docker.Container(
            `${name}-registry`,
            {
                name: `${p}-registry`,
                image: registryImage.imageId,
                // Serves the registry and runs garbage collection safely (configs/registry.ts).
                entrypoints: ["/bin/sh", "-c"],
                command: [renderRegistrySupervisor(s)],
                uploads: [
                    { file: REGISTRY_CONFIG_PATH, content: pulumi.secret(httpSecret.result.apply((secret) => renderRegistryConfig(s, secret))) },
                    { file: REGISTRY_READONLY_CONFIG_PATH, content: pulumi.secret(httpSecret.result.apply((secret) => renderRegistryConfig(s, secret, "read-only"))) },
                    ...storageUploads,
                ],
                // It listens on no TCP port, only on sockets in a volume nginx alone shares. With
                // its data volume it needs no network at all; S3 needs a way out to the bucket.
                ...(s.storage.driver === "s3" ? { networksAdvanced: [{ name: network.name }] } : { networkMode: "none" }),
                volumes: [
                    { volumeName: dataVolume.name, containerPath: REGISTRY_DATA_DIR },
                    { volumeName: controlVolume.name, containerPath: REGISTRY_CONTROL_DIR },
                    { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR },
                ],
                // Stopped or replaced: in-flight requests finish first (the registry's drain timeout).
                stopTimeout: STOP_GRACE_SECONDS,
                destroyGraceSeconds: STOP_GRACE_SECONDS,
                restart: "unless-stopped",
                labels,
            },
            replace,
        );

        const nginx = new docker.Container(
            `${name}-nginx`,
            {
                name: `${p}-nginx`,
                image: nginxImage.imageId,
                entrypoints: ["/bin/sh", "-c"],
                command: [renderNginxEntrypoint()],
                ports: [
                    { internal: 80, external: s.publish.httpPort, ip: s.publish.bindAddress },
                    { internal: 443, external: s.publish.httpsPort, ip: s.publish.bindAddress },
                ],
                // Pebble validates challenges over the network: the domain resolves to nginx there.
                networksAdvanced: [{ name: network.name, aliases: s.acme.kind === "pebble" ? [s.domain] : [] }],
                volumes: [
                    { volumeName: confVolume.name, containerPath: NGINX_CONF_DIR },
                    { volumeName: authVolume.name, containerPath: NGINX_AUTH_DIR },
                    { volumeName: certsVolume.name, containerPath: LETSENCRYPT_DIR, readOnly: true },
                    { volumeName: webrootVolume.name, containerPath: WEBROOT, readOnly: true },
                    { volumeName: controlVolume.name, containerPath: NGINX_CONTROL_DIR, readOnly: true },
                    { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR },
                ],
                // Stopped or replaced: a graceful shutdown (QUIT) lets in-flight transfers finish.
                stopSignal: "SIGQUIT",
                stopTimeout: STOP_GRACE_SECONDS,
                destroyGraceSeconds: STOP_GRACE_SECONDS,
                restart: "unless-stopped",
                labels,
            },
            { ...replace, dependsOn: [registry] },
        );

        const acme = s.acme.kind === "pebble" ? new LocalAcmeServer(`${name}-pebble`, { settings: s, network: network.name, labels }, { parent: this, provider }) : undefined;

        const certbot = new docker.Container(
            `${name}-certbot`,
            {
                name: `${p}-certbot`,
                image: certbotImage.imageId,
                entrypoints: ["/bin/sh", "-c"],
                command: [renderRenewLoop(s)],
                envs: certbotEnv(s),
                // A custom CA's root, which certbot trusts for its ACME server.
                ...(s.acme.caCertificate ? { uploads: [{ file: ACME_CA_PATH, content: s.acme.caCertificate }] } : {}),
                // Unhealthy when the certificate is missing or within certificateWarningDays of expiry.
                healthcheck: { tests: ["CMD", HEALTH_CHECK], interval: "30s", timeout: "20s", retries: 1 },
                networksAdvanced: [{ name: network.name }],
                volumes: [
                    { volumeName: certsVolume.name, containerPath: LETSENCRYPT_DIR },
                    { volumeName: webrootVolume.name, containerPath: WEBROOT },
                    ...(acme ? [{ volumeName: acme.certsVolume, containerPath: PEBBLE_CA_DIR, readOnly: true }] : []),
                ],
                restart: "unless-stopped",
                labels,
            },
            { ...replace, dependsOn: acme ? [acme] : [] },
        );

        // Fails the deploy with the driver's message when the registry cannot use its storage
        // (wrong keys, missing bucket, unreachable endpoint). Runs whenever the registry is (re)created.
        const storageCheck = containerScript(
            `${name}-storage-check`,
            { dockerHost: s.dockerHost, container: nginx.name, script: renderStorageCheck(s), triggers: [registry.id] },
            { parent: this },
        );

        const tls = new TlsCertificate(`${name}-tls`, { settings: s, nginxContainer: nginx.name, certbotContainer: certbot.name }, { parent: this });
        // Passwords are handed out once the registry can store what is pushed with them.
        const users = new Htpasswd(`${name}-htpasswd`, { settings: s, nginxContainer: nginx.name }, { parent: this, dependsOn: [tls, storageCheck] });

        const host = publicHost(s);
        this.host = pulumi.output(host);
        this.url = pulumi.output(`https://${host}`);
        this.userNames = pulumi.output(s.users.map((u) => u.name));
        this.passwords = users.passwords;
        const first = s.users[0].name;
        this.dockerConfigJson = pulumi.secret(
            users.passwords.apply((pw) =>
                JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${first}:${pw[first]}`).toString("base64") } } }),
            ),
        );
        this.caRoot = tls.caRoot;
        this.certificateExpiry = tls.expiry;
        this.volumes = pulumi.output({ data: dataVolume.name, certificates: certsVolume.name });

        this.registerOutputs({
            url: this.url,
            host: this.host,
            userNames: this.userNames,
            passwords: this.passwords,
            dockerConfigJson: this.dockerConfigJson,
            caRoot: this.caRoot,
            certificateExpiry: this.certificateExpiry,
            volumes: this.volumes,
        });
    }
}
