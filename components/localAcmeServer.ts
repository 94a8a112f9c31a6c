// LocalAcmeServer: Pebble, Let's Encrypt's ACME test server, as the CA of a local stack.
// It validates HTTP-01 challenges against nginx on the stack's network, so no public
// domain or DNS is needed. Its listener CA lands in a volume the certbot container trusts.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { PEBBLE_ALIAS, PEBBLE_CERTS_DIR, PEBBLE_CONFIG_PATH, PEBBLE_ENV, renderPebbleConfig } from "../configs/pebble";
import { Settings } from "../configs/settings";

export interface LocalAcmeServerArgs {
    settings: Settings;
    network: pulumi.Input<string>;
    labels: docker.types.input.ContainerLabel[];
}

export class LocalAcmeServer extends pulumi.ComponentResource {
    /** Volume holding Pebble's listener certificate and CA (`pebble.minica.pem`). */
    public readonly certsVolume: pulumi.Output<string>;

    constructor(name: string, args: LocalAcmeServerArgs, opts: pulumi.ComponentResourceOptions & { provider: docker.Provider }) {
        super("registry:index:LocalAcmeServer", name, {}, opts);
        const s = args.settings;
        const o = { parent: this, provider: opts.provider };

        const image = new docker.RemoteImage(`${name}-image`, { name: s.images.pebble, keepLocally: true }, o);
        // An empty named volume is filled from the image on first mount: the listener certs.
        const certs = new docker.Volume(
            `${name}-certs`,
            { name: `${s.namePrefix}-pebble-certs`, labels: args.labels },
            { ...o, ignoreChanges: ["labels"] },
        );

        new docker.Container(
            `${name}-container`,
            {
                name: `${s.namePrefix}-pebble`,
                image: image.imageId,
                command: ["-config", PEBBLE_CONFIG_PATH],
                envs: PEBBLE_ENV,
                uploads: [{ file: PEBBLE_CONFIG_PATH, content: renderPebbleConfig(s.pebbleCertificateDays) }],
                networksAdvanced: [{ name: args.network, aliases: [PEBBLE_ALIAS] }],
                volumes: [{ volumeName: certs.name, containerPath: PEBBLE_CERTS_DIR }],
                restart: "unless-stopped",
                labels: args.labels,
            },
            { ...o, deleteBeforeReplace: true },
        );
        this.certsVolume = certs.name;
        this.registerOutputs({ certsVolume: this.certsVolume });
    }
}
