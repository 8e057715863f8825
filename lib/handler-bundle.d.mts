import type { BuildOptions, Plugin } from 'esbuild';

export declare const HANDLER_BANNER: string;
export declare const builtinsWithoutFacade: Plugin;
export declare function handlerBuildOptions(entry: string, outdir: string): BuildOptions;
