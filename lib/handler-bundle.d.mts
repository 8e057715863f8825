import type { BuildOptions } from 'esbuild';

export declare const HANDLER_BANNER: string;
export declare function handlerBuildOptions(entry: string, outdir: string): BuildOptions;
