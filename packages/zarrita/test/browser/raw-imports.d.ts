// Vite's raw imports (the README test): a file's text.
declare module "*.md?raw" {
  const text: string;
  export default text;
}
