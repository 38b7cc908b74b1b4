/**
 * PostgreSQL text cannot hold U+0000; model and tool output sometimes contains it. Stored text
 * gets U+FFFD in its place on every database, so both answer alike. (Input from clients is
 * refused with a 400 instead: src/http/nul-guard.ts.)
 */
export const withoutNul = (text: string): string => (text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text);
