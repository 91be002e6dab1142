export declare const NEEDED_MAJOR: number;
export declare function nodeProblem(version: string): string | null;
