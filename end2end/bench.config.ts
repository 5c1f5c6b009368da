import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// The UI benchmarks (`make bench-ui`): the same fresh server as the tests, the files in bench/.
export default defineConfig({ ...base, testDir: './bench', timeout: 120_000 });
