/**
 * The one typed surface of the Rust addon. Every function the `.node` file exports is declared here;
 * the loader checks that each exists before handing the binding out.
 */
export interface NativeBinding {
  version(): string;
  nativeInfo(): { version: string; sha256Backend: string; arch: string; os: string };
  sha256(data: ArrayBufferView | ArrayBuffer): Buffer;
  sha256Hex(data: ArrayBufferView | ArrayBuffer): string;
}

/** Names the loader verifies on a freshly loaded addon. */
export const BINDING_FUNCTIONS: readonly (keyof NativeBinding)[] = ["version", "nativeInfo", "sha256", "sha256Hex"];
