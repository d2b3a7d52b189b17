/** Parts of a parsed `transport:reference`. */
export interface ParsedReference {
  transport: 'docker' | 'dir' | 'oci' | 'oci-archive' | 'docker-archive' | 'docker-daemon' | 'containers-storage';
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
  path?: string;
  index?: number;
}

export interface Options {
  /** `false` also allows plain HTTP (as `--tls-verify=false`); default: HTTPS only. */
  tlsVerify?: boolean;
  username?: string;
  password?: string;
  /** A bearer token used as is. */
  registryToken?: string;
  /** Access the registry anonymously. */
  noCreds?: boolean;
  overrideArch?: string;
  overrideOs?: string;
  overrideVariant?: string;
  noTags?: boolean;
  retryTimes?: number;
  /** The fetch to use (defaults to globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface LayerData {
  MIMEType: string;
  Digest: string;
  Size: number;
  Annotations: Record<string, string> | null;
}

/** What `skopeo inspect` / `skiff inspect` print. */
export interface InspectOutput {
  Name?: string;
  Tag?: string;
  Digest: string;
  RepoTags: string[] | null;
  Created: string | null;
  DockerVersion: string;
  Labels: Record<string, string> | null;
  Architecture: string;
  Os: string;
  Layers: string[];
  LayersData: LayerData[];
  Env: string[] | null;
}

export class SkiffError extends Error {
  /** "invalid-input" | "not-found" | "unauthorized" | "io" | "integrity" | "unsupported" | "other" */
  kind: string;
}

/** Synchronous: the WebAssembly module is ready once this module is imported. */
export function parseReference(reference: string): ParsedReference;
export function manifestDigest(manifest: Uint8Array | ArrayBuffer | string): string;
export function inspect(reference: string, opts: Options & { raw: true }): Promise<Uint8Array>;
export function inspect(reference: string, opts: Options & { config: true }): Promise<Record<string, unknown>>;
export function inspect(reference: string, opts?: Options): Promise<InspectOutput>;
export function listTags(repository: string, opts?: Options): Promise<{ Repository: string; Tags: string[] }>;
