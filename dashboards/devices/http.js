// The page's calls beyond shared/api.js's named ones (device details, samples,
// maintenance, commands), through its request(): ApiError with the server's detail, and a
// 401 shows the login form (through the handler the page registered with onUnauthorized).

import { request as call } from "../shared/api.js";

const enc = encodeURIComponent;

export const devicesApi = {
  details: () => call("/api/device-details"),
  device: (id) => call(`/api/devices/${enc(id)}`),
  samples: (id, limit = 60) => call(`/api/devices/${enc(id)}/samples?limit=${limit}`),
  maintenanceOn: (id, reason, hours) =>
    call(`/api/maintenance/device/${enc(id)}`, { method: "PUT", body: hours ? { reason, hours } : { reason } }),
  maintenanceOff: (id) => call(`/api/maintenance/device/${enc(id)}`, { method: "DELETE" }),
  command: (id, name, params) =>
    call(`/api/devices/${enc(id)}/commands`, { method: "POST", body: { name, params } }),
};
