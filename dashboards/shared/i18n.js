// Every label of the dashboards in Simplified Chinese (default) and English.
// DESIGN.md: "UI language: Simplified Chinese first, English second (switchable)".
// The choice is remembered per browser in localStorage.

const STORAGE_KEY = "cw.lang";
export const LANGS = ["zh", "en"];

const LABELS = {
  "app.title": { zh: "办案中心监控墙", en: "Centre monitoring wall" },
  "lang.zh": { zh: "中文", en: "中文" },
  "lang.en": { zh: "English", en: "English" },
  "lang.switch": { zh: "界面语言", en: "Language" },

  "conn.connecting": { zh: "连接中", en: "Connecting" },
  "conn.live": { zh: "实时", en: "Live" },
  "conn.reconnecting": { zh: "重连中", en: "Reconnecting" },
  "conn.label": { zh: "连接状态", en: "Connection" },

  "counts.label": { zh: "当前告警", en: "Active alarms" },

  "login.title": { zh: "登录", en: "Sign in" },
  "login.subtitle": { zh: "请使用值班账号登录", en: "Sign in with your duty account" },
  "login.username": { zh: "用户名", en: "Username" },
  "login.password": { zh: "密码", en: "Password" },
  "login.submit": { zh: "登录", en: "Sign in" },
  "login.busy": { zh: "正在登录…", en: "Signing in…" },
  "login.failed": { zh: "用户名或密码错误", en: "Wrong username or password" },
  "login.error": { zh: "无法连接服务器", en: "Cannot reach the server" },
  "logout": { zh: "退出", en: "Sign out" },

  "plan.label": { zh: "楼层平面图", en: "Floor plan" },
  "legend.empty": { zh: "无人", en: "Empty" },
  "legend.occupied": { zh: "有人", en: "Occupied" },
  "legend.alarm": { zh: "告警", en: "Alarm" },
  "legend.suspect": { zh: "被管控人员", en: "Person in custody" },
  "legend.staff": { zh: "民警/安保", en: "Officer / guard" },
  "legend.other": { zh: "其他人员", en: "Other person" },
  "legend.hint": { zh: "点击房间查看详情", en: "Click a room for details" },

  "alarms.title": { zh: "告警", en: "Alarms" },
  "alarms.filter": { zh: "告警筛选", en: "Alarm filter" },
  "alarms.active": { zh: "当前告警", en: "Active only" },
  "alarms.recent": { zh: "全部近期", en: "All recent" },
  "alarms.none": { zh: "暂无告警", en: "No alarms" },
  "alarms.ack": { zh: "确认", en: "Acknowledge" },
  "alarms.acking": { zh: "确认中…", en: "Acknowledging…" },
  "alarms.ack_failed": { zh: "确认失败", en: "Acknowledge failed" },
  "alarms.acked_by": { zh: "确认人", en: "by" },
  "alarms.subject": { zh: "对象", en: "Subject" },
  "alarms.raised": { zh: "发生", en: "Raised" },
  "alarms.cleared": { zh: "恢复", en: "Cleared" },
  "alarms.count": { zh: "次", en: "×" },
  "alarms.zone_filter": { zh: "已选房间", en: "Selected room" },

  "state.active_unacked": { zh: "未确认", en: "Unacknowledged" },
  "state.active_acked": { zh: "已确认", en: "Acknowledged" },
  "state.cleared_unacked": { zh: "已恢复·未确认", en: "Cleared, unacknowledged" },
  "state.cleared": { zh: "已恢复", en: "Cleared" },

  "severity.critical": { zh: "紧急", en: "Critical" },
  "severity.major": { zh: "重要", en: "Major" },
  "severity.minor": { zh: "次要", en: "Minor" },
  "severity.warning": { zh: "提示", en: "Warning" },

  "zone.status.empty": { zh: "无人", en: "Empty" },
  "zone.status.occupied": { zh: "有人", en: "Occupied" },
  "zone.status.alarm": { zh: "告警", en: "Alarm" },
  "zone.kind": { zh: "类型", en: "Kind" },
  "zone.capacity": { zh: "容量", en: "Capacity" },
  "zone.occupants": { zh: "在场人员", en: "Occupants" },
  "zone.devices": { zh: "设备", en: "Devices" },
  "zone.nobody": { zh: "无人", en: "Nobody" },
  "zone.no_devices": { zh: "无设备", en: "No devices" },
  "zone.close": { zh: "关闭", en: "Close" },
  "rollcall.title": { zh: "被管控人员位置", en: "People in custody" },
  "rollcall.in_custody": { zh: "被管控", en: "In custody" },
  "rollcall.staff": { zh: "民警/安保", en: "Staff" },

  "kind.entrance": { zh: "入口", en: "Entrance" },
  "kind.body_check": { zh: "人身安全检查室", en: "Body check" },
  "kind.info_collection": { zh: "信息采集室", en: "Information collection" },
  "kind.locker_bank": { zh: "随身物品保管", en: "Locker bank" },
  "kind.holding": { zh: "候问室", en: "Holding room" },
  "kind.interrogation": { zh: "讯问室", en: "Interrogation room" },
  "kind.inquiry": { zh: "询问室", en: "Inquiry room" },
  "kind.juvenile": { zh: "未成年人专区", en: "Juvenile area" },
  "kind.lawyer_meeting": { zh: "律师会见室", en: "Lawyer meeting room" },
  "kind.corridor": { zh: "走廊", en: "Corridor" },
  "kind.duty_desk": { zh: "值班台", en: "Duty desk" },
  "kind.exit": { zh: "出口", en: "Exit" },

  "role.suspect": { zh: "被管控人员", en: "In custody" },
  "role.officer": { zh: "民警", en: "Officer" },
  "role.guard": { zh: "安保", en: "Guard" },
  "role.guardian": { zh: "监护人", en: "Guardian" },
  "role.lawyer": { zh: "律师", en: "Lawyer" },
  "role.visitor": { zh: "访客", en: "Visitor" },

  "device.online": { zh: "在线", en: "Online" },
  "device.offline": { zh: "离线", en: "Offline" },
  "device.stale": { zh: "无响应", en: "Stale" },
  "device.maintenance": { zh: "维护中", en: "Maintenance" },
  "device.unknown": { zh: "未知", en: "Unknown" },

  "profile.reader": { zh: "定位读卡器", en: "Tag reader" },
  "profile.camera": { zh: "摄像机", en: "Camera" },
  "profile.door": { zh: "门禁", en: "Door" },
  "profile.recorder": { zh: "审讯主机", en: "Recorder" },
  "profile.panic": { zh: "紧急按钮", en: "Panic button" },
  "profile.env": { zh: "温湿度", en: "Temperature/humidity" },
  "profile.smoke": { zh: "烟感", en: "Smoke detector" },
  "profile.search": { zh: "安检终端", en: "Body-check terminal" },
  "profile.lockers": { zh: "储物柜", en: "Locker bank" },

  // The technicians' device page (/devices).
  "nav.devices": { zh: "设备管理", en: "Devices" },
  "nav.wall": { zh: "监控墙", en: "Wall" },
  "devices.title": { zh: "设备管理", en: "Device management" },
  "devices.subtitle": { zh: "运维", en: "Maintenance" },
  "devices.total": { zh: "全部", en: "All" },
  "devices.search": { zh: "搜索编号、房间、节点…", en: "Search id, room, node…" },
  "devices.filter.status": { zh: "状态", en: "Status" },
  "devices.filter.profile": { zh: "类型", en: "Type" },
  "devices.filter.zone": { zh: "房间", en: "Room" },
  "devices.filter.node": { zh: "节点", en: "Node" },
  "devices.filter.all": { zh: "全部", en: "All" },
  "devices.filter.clear": { zh: "清除筛选", en: "Clear filters" },
  "devices.shown": { zh: "显示", en: "Showing" },
  "devices.none": { zh: "没有符合条件的设备", en: "No device matches" },
  "devices.col.id": { zh: "设备编号", en: "Device" },
  "devices.col.zone": { zh: "房间", en: "Room" },
  "devices.col.profile": { zh: "类型", en: "Type" },
  "devices.col.node": { zh: "节点", en: "Node" },
  "devices.col.status": { zh: "状态", en: "Status" },
  "devices.col.last_seen": { zh: "最后上报", en: "Last seen" },
  "devices.col.health": { zh: "关键指标", en: "Health" },
  "devices.never": { zh: "从未上报", en: "never" },
  "devices.ago.s": { zh: "{n}秒前", en: "{n} s ago" },
  "devices.ago.m": { zh: "{n}分钟前", en: "{n} min ago" },
  "devices.ago.h": { zh: "{n}小时前", en: "{n} h ago" },
  "devices.ago.d": { zh: "{n}天前", en: "{n} d ago" },
  "devices.battery": { zh: "电量", en: "Battery" },
  "devices.modbus_errors": { zh: "通信错误", en: "Bus errors" },
  "devices.modbus_ok": { zh: "通信正常", en: "Bus OK" },
  "devices.select_hint": { zh: "选择一台设备查看详情", en: "Select a device for its details" },
  "devices.close": { zh: "关闭", en: "Close" },
  "devices.section.status": { zh: "状态", en: "Status" },
  "devices.section.metrics": { zh: "全部指标", en: "All metrics" },
  "devices.section.modbus": { zh: "Modbus 通信计数", en: "Modbus counters" },
  "devices.section.samples": { zh: "近期数据", en: "Recent samples" },
  "devices.section.maintenance": { zh: "维护模式", en: "Maintenance mode" },
  "devices.section.commands": { zh: "远程命令", en: "Commands" },
  "devices.no_metrics": { zh: "暂无指标", en: "No metrics yet" },
  "devices.no_samples": { zh: "暂无数据", en: "No samples yet" },
  "devices.samples.time": { zh: "时间", en: "Time" },
  "devices.samples.hist": { zh: "补传", en: "replayed" },
  "devices.samples.values": { zh: "数值", en: "Values" },
  "devices.node_state": { zh: "所属节点", en: "Node" },
  "devices.node_online": { zh: "节点在线", en: "node online" },
  "devices.node_offline": { zh: "节点离线", en: "node offline" },
  "devices.outbox": { zh: "待发缓存", en: "outbox" },
  "devices.transport": { zh: "接入方式", en: "Transport" },
  "devices.heartbeat": { zh: "心跳周期", en: "Heartbeat" },
  "devices.link_status": { zh: "链路状态", en: "Link" },
  "devices.metrics_at": { zh: "数据时间", en: "Data time" },
  "devices.lost.node_offline": { zh: "所属节点离线", en: "its node is offline" },
  "devices.lost.device_lost": { zh: "节点报告设备丢失", en: "lost, reported by its node" },
  "devices.lost.awaiting_birth": { zh: "等待设备重新上线", en: "awaiting the device's birth" },
  "devices.lost.silent": { zh: "超时无数据", en: "silent past its heartbeat" },
  "devices.lost.never_seen": { zh: "从未上线", en: "never seen" },
  "devices.modbus.timeout": { zh: "超时", en: "Timeouts" },
  "devices.modbus.unreachable": { zh: "不可达", en: "Unreachable" },
  "devices.modbus.exception": { zh: "异常应答", en: "Exception responses" },
  "devices.modbus.bad_response": { zh: "错误帧", en: "Bad frames" },
  "devices.modbus.out_of_range": { zh: "超出量程", en: "Out of range" },
  "devices.modbus.internal": { zh: "网关内部错误", en: "Internal" },
  "devices.modbus.last_error": { zh: "最近错误", en: "Last error" },
  "devices.maint.on": { zh: "进入维护", en: "Start maintenance" },
  "devices.maint.off": { zh: "结束维护", en: "End maintenance" },
  "devices.maint.reason": { zh: "维护原因（必填）", en: "Reason (required)" },
  "devices.maint.hours": { zh: "计划时长（小时，可选）", en: "Planned hours (optional)" },
  "devices.maint.active": { zh: "维护中：告警仍记录但不通知", en: "In maintenance: alarms are stored, not announced" },
  "devices.maint.inactive": { zh: "未处于维护模式", en: "Not in maintenance" },
  "devices.maint.by": { zh: "操作人", en: "by" },
  "devices.maint.since": { zh: "开始", en: "since" },
  "devices.maint.until": { zh: "计划结束", en: "until" },
  "devices.maint.zone": { zh: "（整个房间）", en: "(whole room)" },
  "devices.maint.zone_note": { zh: "房间维护需在房间层面解除", en: "Room maintenance is lifted for the room" },
  "devices.maint.need_reason": { zh: "请填写维护原因", en: "A reason is required" },
  "devices.no_commands": { zh: "该类型设备没有远程命令", en: "This type of device takes no commands" },
  "devices.cmd.send": { zh: "发送", en: "Send" },
  "devices.cmd.dangerous": { zh: "高风险", en: "Dangerous" },
  "devices.cmd.confirm": { zh: "确认向 {device} 发送“{name}”命令？", en: "Send “{name}” to {device}?" },
  "devices.cmd.history": { zh: "本次会话发送的命令", en: "Commands sent from this page" },
  "devices.cmd.status.sending": { zh: "发送中", en: "Sending" },
  "devices.cmd.status.pending": { zh: "等待结果", en: "Pending" },
  "devices.cmd.status.done": { zh: "已完成", en: "Done" },
  "devices.cmd.status.refused": { zh: "被拒绝", en: "Refused" },
  "devices.cmd.status.failed": { zh: "执行失败", en: "Failed" },
  "devices.cmd.status.timeout": { zh: "执行超时", en: "Timed out" },
  "devices.cmd.status.expired": { zh: "已过期", en: "Expired" },
  "devices.cmd.status.unknown_command": { zh: "设备不支持", en: "Unknown command" },
  "devices.cmd.status.no_answer": { zh: "无应答", en: "No answer" },
  "devices.cmd.status.error": { zh: "发送失败", en: "Not sent" },
  "devices.cmd.name.reboot": { zh: "重启", en: "Reboot" },
  "devices.cmd.name.resync": { zh: "重新同步", en: "Resync" },
  "devices.cmd.name.unlock": { zh: "开锁（维修）", en: "Unlock for service" },
  "devices.cmd.name.lock": { zh: "上锁", en: "Lock" },
  "devices.cmd.name.reset_alarm": { zh: "复位报警", en: "Reset alarm" },
  "devices.cmd.name.reset": { zh: "复位", en: "Reset" },
  "devices.cmd.name.open_locker": { zh: "打开储物柜", en: "Open locker" },
  "devices.cmd.name.start_recording": { zh: "开始录像", en: "Start recording" },
  "devices.cmd.name.stop_recording": { zh: "停止录像", en: "Stop recording" },
  "devices.forbidden": { zh: "需要运维 (tech) 权限", en: "Needs the technician (tech) role" },
  "devices.error": { zh: "操作失败", en: "Failed" },
  "devices.sort": { zh: "点击排序", en: "Click to sort" },
  "diagnosis.starting": { zh: "启动中", en: "Starting" },
  "diagnosis.ok": { zh: "画面正常", en: "Picture OK" },
  "diagnosis.no_signal": { zh: "无信号", en: "No signal" },
  "diagnosis.stale": { zh: "画面停止更新", en: "Picture stale" },
  "diagnosis.black": { zh: "黑屏", en: "Black" },
  "diagnosis.dark": { zh: "过暗", en: "Too dark" },
  "diagnosis.frozen": { zh: "画面冻结", en: "Frozen" },
  "diagnosis.occluded": { zh: "镜头遮挡", en: "Lens occluded" },
  "diagnosis.blurred": { zh: "模糊", en: "Blurred" },
  "diagnosis.colour_cast": { zh: "偏色", en: "Colour cast" },
};

// Rule ids of DESIGN.md ("Zone safety rules"); they are stable, so the names live here.
// tests/dashboards/test_i18n.py checks that every id of DESIGN.md has both names.
export const RULE_NAMES = {
  unattended_person: { zh: "无人看管", en: "Person unattended" },
  search_skipped: { zh: "未经人身安全检查", en: "Body check skipped" },
  camera_fault: { zh: "视频监控故障", en: "Camera fault" },
  recording_not_running: { zh: "同步录音录像未运行", en: "Recording not running" },
  single_officer_questioning: { zh: "单人讯问", en: "Single-officer questioning" },
  female_search_without_female_officer: {
    zh: "无女警检查女性", en: "Female searched without female officer",
  },
  separation_violation: { zh: "违反分别关押", en: "Separation violated" },
  juvenile_without_guardian: { zh: "未成年人无监护人在场", en: "Juvenile without guardian" },
  custody_time_warning: { zh: "羁押时限将至", en: "Custody time limit near" },
  custody_time_exceeded: { zh: "超过羁押时限", en: "Custody time limit exceeded" },
  no_rest_break: { zh: "未保障休息", en: "No rest break" },
  unauthorized_exit: { zh: "擅自离开办案区", en: "Unauthorized exit" },
  door_held_open: { zh: "门长时间未关", en: "Door held open" },
  door_forced: { zh: "门被强行打开", en: "Door forced" },
  panic_button: { zh: "紧急报警按钮", en: "Panic button" },
  environment_out_of_range: { zh: "温湿度异常", en: "Environment out of range" },
  smoke_detected: { zh: "烟雾报警", en: "Smoke detected" },
  zone_over_capacity: { zh: "超出房间容量", en: "Room over capacity" },
  belongings_left: { zh: "随身物品未领取", en: "Belongings left behind" },
  node_offline: { zh: "边缘节点离线", en: "Edge node offline" },
  device_offline: { zh: "设备离线", en: "Device offline" },
  device_stale: { zh: "设备无响应", en: "Device stale" },
  tag_tamper: { zh: "手环被破坏", en: "Wristband tampered" },
  tag_low_battery: { zh: "手环电量低", en: "Wristband battery low" },
  clock_skew: { zh: "时钟偏差", en: "Clock skew" },
};

const listeners = new Set();
let current = initialLang();

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // localStorage may be disabled (kiosk profiles); fall back to the default.
  }
  return "zh";
}

export function lang() {
  return current;
}

export function setLang(value) {
  if (!LANGS.includes(value) || value === current) return;
  current = value;
  try {
    localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // not remembered, still switched
  }
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  for (const fn of listeners) fn(value);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The label for `key` in the current language; `fallback` (or the key) when unknown. */
export function t(key, fallback) {
  const entry = LABELS[key];
  return entry ? entry[current] : fallback ?? key;
}

/** A {zh, en} object from the server (zone and site names) in the current language. */
export function pick(names, fallback = "") {
  if (!names) return fallback;
  if (typeof names === "string") return names;
  return names[current] || names.zh || names.en || fallback;
}

export function ruleName(rule) {
  const entry = RULE_NAMES[rule];
  return entry ? entry[current] : rule;
}

/** Fill every element carrying data-i18n (text) or data-i18n-<attr> (attribute). */
export function translateStatic(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["title", "aria-label", "placeholder"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    }
  }
}

// ------------------------------------------------------------------------- time
// DESIGN.md: "Times in the site's local time zone on screen, UTC on the wire."

let siteZone = "Asia/Shanghai";
const formatters = new Map();

export function setTimeZone(tz) {
  if (tz && tz !== siteZone) {
    siteZone = tz;
    formatters.clear();
  }
}

function formatter(kind) {
  const key = `${kind}:${current}`;
  let f = formatters.get(key);
  if (!f) {
    const opts = { timeZone: siteZone, hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: "h23" };
    if (kind === "datetime") Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
    if (kind === "date") {
      delete opts.hour; delete opts.minute; delete opts.second; delete opts.hourCycle;
      Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
    }
    f = new Intl.DateTimeFormat(current === "zh" ? "zh-CN" : "en-GB", opts);
    formatters.set(key, f);
  }
  return f;
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** HH:MM:SS in the site's time zone. */
export function formatTime(value) {
  const d = toDate(value);
  return d ? formatter("time").format(d) : "";
}

export function formatDateTime(value) {
  const d = toDate(value);
  return d ? formatter("datetime").format(d) : "";
}

export function formatDate(value) {
  const d = toDate(value);
  return d ? formatter("date").format(d) : "";
}
