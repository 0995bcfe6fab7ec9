export declare function needsBuild(root: string): boolean;
export declare function needsTsBuild(root: string): boolean;
export declare function needsUiBuild(root: string): boolean;
export declare function build(root: string, options?: { toStderr?: boolean }): number;
export declare function buildUi(root: string, options?: { toStderr?: boolean }): number;
