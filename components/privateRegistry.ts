// PrivateRegistry: a Docker registry behind nginx with ACME TLS and basic auth, on one Docker
// host you own; only nginx reaches the registry (through a socket volume). Use it from any
// Pulumi program: `new PrivateRegistry("registry", { domain: "registry.example.com" })`.
// The constructor reads like the architecture: host, network, volumes, images, registry,
// nginx, (Pebble), certbot, then the storage check, the certificate bootstrap and the users.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { publicHost } from "../configs/nginx";
import { renderStorageCheck } from "../configs/registry";
import { ARGS_NAMING, ConfigError, parseSettings, Settings } from "../configs/settings";
import { certbotContainer, declareImages, declareVolumes, Labels, nginxContainer, registryContainer } from "./containers";
import { containerScript } from "./containerScript";
import { RegistryUsers } from "./registryUsers";
import { LocalAcmeServer } from "./localAcmeServer";
import { PrivateRegistryArgs } from "./privateRegistryArgs";
import { TlsCertificate } from "./tlsCertificate";

export type { PrivateRegistryArgs, RegistryStorageArgs, RegistryUserArgs } from "./privateRegistryArgs";

export class PrivateRegistry extends pulumi.ComponentResource {
    /** `https://<host>`: the registry's address. */
    public readonly url: pulumi.Output<string>;
    /** Host (and port) to tag images with: `docker push <host>/team/app:1`. */
    public readonly host: pulumi.Output<string>;
    public readonly userNames: pulumi.Output<string[]>;
    /** Passwords by user name (secret), handed out once nginx has them. */
    public readonly passwords: pulumi.Output<Record<string, string>>;
    /** Docker config JSON (`~/.docker/config.json`) for the first user (secret). */
    public readonly dockerConfigJson: pulumi.Output<string>;
    /** PEM root of the issuing CA when it is not publicly trusted (Pebble, a custom CA). */
    public readonly caRoot: pulumi.Output<string | undefined>;
    /** The certificate's expiry (ISO 8601) as of the last issuance by `pulumi up`. */
    public readonly certificateExpiry: pulumi.Output<string>;
    /** Names of the data and certificate volumes. */
    public readonly volumes: pulumi.Output<{ data: string; certificates: string }>;

    constructor(name: string, args: PrivateRegistryArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("registry:index:PrivateRegistry", name, {}, opts);
        const settings = this.settings(args);
        const labels: Labels = [
            { label: "org.opencontainers.image.vendor", value: "private-registry" },
            { label: "private-registry.stack", value: settings.stack },
            ...Object.entries(settings.labels).map(([label, value]) => ({ label, value })),
        ];
        const provider = new docker.Provider(`${name}-docker`, { host: settings.dockerHost }, { parent: this });
        const childOpts = { parent: this, provider };

        const network = new docker.Network(
            `${name}-network`,
            { name: `${settings.namePrefix}-net`, driver: "bridge", labels },
            { ...childOpts, ignoreChanges: ["labels"] },
        );
        const volumes = declareVolumes(name, settings, labels, childOpts);
        const images = declareImages(name, settings, childOpts);
        const registry = registryContainer(name, settings, { labels, network, volumes, image: images.registry }, childOpts);
        const nginx = nginxContainer(name, settings, { labels, network, volumes, image: images.nginx, registry }, childOpts);
        const acme =
            settings.acme.kind === "pebble"
                ? new LocalAcmeServer(`${name}-pebble`, { settings, network: network.name, labels }, childOpts)
                : undefined;
        const certbot = certbotContainer(name, settings, { labels, network, volumes, image: images.certbot, acme }, childOpts);

        // Fails the deploy with the driver's message when the registry cannot use its storage
        // (wrong keys, missing bucket, unreachable endpoint). Runs whenever the registry is (re)created.
        const storageCheck = containerScript(
            `${name}-storage-check`,
            { dockerHost: settings.dockerHost, container: nginx.name, script: renderStorageCheck(settings), triggers: [registry.id] },
            { parent: this },
        );
        const tls = new TlsCertificate(
            `${name}-tls`,
            { settings, nginxContainer: nginx.name, certbotContainer: certbot.name, certbotId: certbot.id },
            { parent: this },
        );
        // Passwords are handed out once the registry can store what is pushed with them.
        const users = new RegistryUsers(
            `${name}-htpasswd`,
            { settings, nginxContainer: nginx.name },
            { parent: this, dependsOn: [tls, storageCheck] },
        );

        const host = publicHost(settings);
        const first = settings.users[0].name;
        this.host = pulumi.output(host);
        this.url = pulumi.output(`https://${host}`);
        this.userNames = pulumi.output(settings.users.map((u) => u.name));
        this.passwords = users.passwords;
        this.dockerConfigJson = pulumi.secret(
            users.passwords.apply((pw) =>
                JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${first}:${pw[first]}`).toString("base64") } } }),
            ),
        );
        this.caRoot = tls.caRoot;
        this.certificateExpiry = tls.expiry;
        this.volumes = pulumi.output({ data: volumes.data.name, certificates: volumes.certs.name });
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

    /** Defaults and validation (configs/settings.ts); a bad field fails here, naming it. */
    private settings(args: PrivateRegistryArgs): Settings {
        try {
            return parseSettings(args as unknown as Record<string, unknown>, pulumi.getStack(), ARGS_NAMING, "PrivateRegistry args");
        } catch (e) {
            if (e instanceof ConfigError) throw new pulumi.ResourceError(e.message, this);
            throw e;
        }
    }
}
