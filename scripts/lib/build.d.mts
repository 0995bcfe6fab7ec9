export declare function needsBuild(root: string): boolean;
export declare function build(root: string, options?: { toStderr?: boolean }): number;
