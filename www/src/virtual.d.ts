/** The most common passwords, ranked (see vite.config.ts and src/strength.ts). */
declare module 'virtual:common-passwords' {
  const words: string[];
  export default words;
}
