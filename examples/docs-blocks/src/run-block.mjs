// Child process entry: runs one prepared block, checks its `// →` comments, and exits (a block
// may leave timers or sockets open, as a real program would until it closes them).
const [file, annotations] = process.argv.slice(2);
try {
  await import(file);
  const { failedExpectations } = await import("./ambient.mjs");
  const failures = failedExpectations(Number(annotations));
  if (failures.length > 0) {
    console.error(failures.join("\n"));
    process.exit(1);
  }
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
