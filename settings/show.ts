// How a config value the user gave appears in an error message: quoted, and cut when long.
// Never call it with a secret's value.
export function show(value: string): string {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
