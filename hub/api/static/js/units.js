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
  // kubectl's HumanDuration, as the CLI prints ages: exact at first, coarser as it grows.
  if (seconds === null || seconds === undefined) return "never";
  const s = Math.trunc(seconds);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 ? `${minutes}m${s % 60}s` : `${minutes}m`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(s / 3600);
  if (hours < 8) return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 ? `${days}d${hours % 24}h` : `${days}d`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 ? `${years}y${days % 365}d` : `${years}y`;
  return `${years}y`;
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
