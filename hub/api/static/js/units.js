// The same units and precision as the CLI: cores with one decimal, binary bytes, ages.

const GiB = 1024 ** 3;

export function cores(millis) {
  return `${(millis / 1000).toFixed(1)} cores`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "unknown";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let shown = value;
  let unit = 0;
  while (Math.abs(shown) >= 1024 && unit < units.length - 1) {
    shown /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${shown} B` : `${shown.toFixed(1)} ${units[unit]}`;
}

export function amount(resource, value) {
  if (resource === "cpu_millis" || resource === "cpu") return cores(value);
  if (resource === "memory_bytes" || resource === "memory" || resource.startsWith("hugepages-")
      || resource.endsWith("_bytes") || resource === "storage") return bytes(value);
  return String(value);
}

export function resourceName(resource) {
  if (resource === "cpu_millis") return "CPU";
  if (resource === "memory_bytes") return "Memory";
  return resource;
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

export function since(timestamp, now = Date.now()) {
  if (!timestamp) return "";
  return `${age((now - Date.parse(timestamp)) / 1000)} ago`;
}

export function figure(key, value) {
  // A finding's detail figure, in units its name says.
  if (typeof value !== "number") return `${key}: ${JSON.stringify(value)}`;
  if (/bytes|memory|free_total|needed|shortfall|largest_free|size/.test(key) && value > GiB / 8) {
    return `${key}: ${bytes(value)}`;
  }
  if (/millis|cpu/.test(key)) return `${key}: ${cores(value)}`;
  return `${key}: ${value}`;
}
