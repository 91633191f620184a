// Vitest setup file: runs in every test file's context, before the file itself.
import 'reflect-metadata';
import { afterAll } from 'vitest';
import { removeTestKeyPairs } from './key-pairs.js';

// registered first, so it runs after the file's own afterAll hooks (which close its apps)
afterAll(removeTestKeyPairs);
