export declare function formatLine(service: string, line: string, options?: { colour?: boolean; stream?: 'stdout' | 'stderr' }): string;
