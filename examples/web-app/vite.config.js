// Relative asset URLs, so dist/ can be served from any folder. Top-level await (src/main.ts) needs es2022.
export default { base: './', build: { target: 'es2022' } };
