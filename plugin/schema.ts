// Secrets in the package's schema. The args' doc comments say which inputs are secret ("Kept
// secret.") and which outputs ("(secret)"), once, for TypeScript readers; the schema takes the
// same facts from them, so a Python or YAML program's plain value is wrapped as a secret too.

/** A property's description that marks it secret. */
const SECRET = /\bKept secret\b|\(secret\)/;

interface Property {
    description?: string;
    secret?: boolean;
}

interface Schema {
    resources?: Record<string, { inputProperties?: Record<string, Property>; properties?: Record<string, Property> }>;
    types?: Record<string, { properties?: Record<string, Property> }>;
}

/** Marks `secret: true` on every property whose description says it is secret. */
export function markSecrets(schemaJson: string): string {
    const schema = JSON.parse(schemaJson) as Schema;
    const mark = (props?: Record<string, Property>) => {
        for (const p of Object.values(props ?? {})) if (p.description && SECRET.test(p.description)) p.secret = true;
    };
    for (const r of Object.values(schema.resources ?? {})) {
        mark(r.inputProperties);
        mark(r.properties);
    }
    for (const t of Object.values(schema.types ?? {})) mark(t.properties);
    return JSON.stringify(schema, undefined, 2);
}
