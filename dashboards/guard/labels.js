// The guard handheld's labels, Simplified Chinese first (DESIGN.md), English second.
// The language itself is the shared switch (../shared/i18n.js), remembered per browser.

import { lang } from "../shared/i18n.js";

const LABELS = {
  title: { zh: "看管民警手持端", en: "Guard handheld" },
  start: { zh: "开始值守", en: "Start duty" },
  start_hint: {
    zh: "点击开始值守, 以便告警时发出声音和振动",
    en: "Tap to start duty so alerts can sound and vibrate",
  },
  sound_locked: { zh: "声音未开启: 点此开启", en: "Sound is off: tap to enable" },
  "conn.connecting": { zh: "连接中", en: "Connecting" },
  "conn.live": { zh: "在线", en: "Online" },
  "conn.reconnecting": { zh: "重连中", en: "Reconnecting" },
  "conn.offline": { zh: "网络断开", en: "Offline" },
  offline_since: { zh: "离线自", en: "Offline since" },
  missed: { zh: "离线期间收到 {n} 条告警", en: "{n} alerts arrived while you were offline" },
  missed_tag: { zh: "离线期间", en: "While offline" },
  dismiss: { zh: "知道了", en: "OK" },
  no_shift: { zh: "未排班: 请联系值班员分配区域", en: "Not on shift: ask the duty desk for your zones" },
  zones: { zh: "负责区域", en: "My zones" },
  all_zones: { zh: "全部区域", en: "All zones" },
  none: { zh: "暂无告警", en: "No alerts" },
  todo: { zh: "处置要求", en: "What to do" },
  ack: { zh: "确认", en: "Acknowledge" },
  arrived: { zh: "已到场", en: "Arrived" },
  resolved: { zh: "已处置", en: "Resolved" },
  note: { zh: "备注 (可选)", en: "Note (optional)" },
  queued: { zh: "已记录, 联网后发送", en: "Saved; sent when back online" },
  failed: { zh: "操作失败", en: "Failed" },
  acked_by: { zh: "确认人", en: "Acknowledged by" },
  "level.0": { zh: "本区域", en: "Your zone" },
  "level.1": { zh: "升级: 全体看管", en: "Escalated: all guards" },
  "level.2": { zh: "升级: 带班领导", en: "Escalated: supervisor" },
  "level.-1": { zh: "接管", en: "Taken over" },
  "step.sent": { zh: "已发送", en: "Sent" },
  "step.delivered": { zh: "已送达", en: "Delivered" },
  "step.seen": { zh: "已查看", en: "Seen" },
  "step.acknowledged": { zh: "已确认", en: "Acknowledged" },
  "step.arrived": { zh: "已到场", en: "Arrived" },
  "step.resolved": { zh: "已处置", en: "Resolved" },
  "state.active_unacked": { zh: "未确认", en: "Unacknowledged" },
  "state.active_acked": { zh: "已确认", en: "Acknowledged" },
  "state.cleared_unacked": { zh: "已恢复·未确认", en: "Cleared, unacknowledged" },
  "state.cleared": { zh: "已恢复", en: "Cleared" },
  "severity.critical": { zh: "紧急", en: "Critical" },
  "severity.major": { zh: "重要", en: "Major" },
  "severity.minor": { zh: "次要", en: "Minor" },
  "severity.warning": { zh: "提示", en: "Warning" },
  logout: { zh: "退出", en: "Sign out" },
};

/** The label in the current language; {name} placeholders from `vars`. */
export function g(key, vars = {}) {
  const entry = LABELS[key];
  let text = entry ? entry[lang()] : key;
  for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, String(value));
  return text;
}
