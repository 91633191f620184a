/**
 * Exchange symbols as the gate, the consumer and the mode overrides accept them: upper-case
 * (BTCUSDT, 1000PEPEUSDT, BTC-PERP), no spaces, colons or globs, so they are safe in key names.
 */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9._-]{0,31}$/;
export const SYMBOL_RULE = 'symbol must be 1-32 upper-case letters, digits, ".", "_" or "-"';
