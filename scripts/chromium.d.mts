export declare const CHROMIUM_PATH: string;
export declare const chromiumArgs: string[];
export declare const chromiumLaunchOptions: { executablePath: string; headless: boolean; args: string[] };
export declare function assertChromium(): void;
