"""What a guard should do for each rule: the line under the alert on the handheld.

Data, not code (STYLE.md rule 3).  Short imperative sentences a guard can act on while
walking; the rule's legal basis is in the rule catalogue (server/rules/catalogue.py).
"""

from __future__ import annotations

# rule id → (zh, en)
GUIDANCE: dict[str, tuple[str, str]] = {
    "unattended_person": ("立即前往该房间看管, 并通知办案民警",
                          "Go to the room now and stay with the person; call the case officer"),
    "search_skipped": ("将人员带回人身安全检查室完成检查",
                       "Take the person back to the body check room for the search"),
    "recording_not_running": ("立即暂停讯(询)问, 检查审讯主机录音录像",
                              "Stop the questioning and check the recorder"),
    "camera_fault": ("前往现场看管, 并通知运维检修摄像机",
                     "Watch the room in person and call the technician about the camera"),
    "single_officer_questioning": ("安排第二名民警进入讯问室",
                                   "Get a second officer into the interrogation room"),
    "female_search_without_female_officer": ("安排女民警到场进行检查",
                                             "Get a female officer to do the search"),
    "separation_violation": ("立即将相关人员分开看管",
                             "Separate the people concerned at once"),
    "juvenile_without_guardian": ("暂停询问, 通知监护人或合适成年人到场",
                                  "Pause and get the guardian or appropriate adult"),
    "custody_time_warning": ("提醒办案民警: 留置时限将到",
                             "Remind the case officer: the custody limit is near"),
    "custody_time_exceeded": ("立即报告带班领导: 已超过留置时限",
                              "Report to the duty leader now: custody limit exceeded"),
    "no_rest_break": ("提醒办案民警安排休息、饮食",
                      "Remind the officers to allow rest, food and water"),
    "unauthorized_exit": ("立即封控出口并查找人员",
                          "Secure the exits and find the person now"),
    "door_held_open": ("前往关闭该门", "Go and close the door"),
    "door_forced": ("立即前往现场核查", "Go to the door now and check"),
    "panic_button": ("立即前往支援!", "Go and assist now!"),
    "environment_out_of_range": ("检查房间温湿度, 必要时转移人员",
                                 "Check the room climate; move the people if needed"),
    "smoke_detected": ("立即前往核查, 必要时按预案疏散",
                       "Go and check now; evacuate by the plan if needed"),
    "zone_over_capacity": ("将多出人员转移到其他房间",
                           "Move the extra people to another room"),
    "belongings_left": ("通知办案民警归还随身物品",
                        "Tell the case officer to return the belongings"),
    "tag_tamper": ("立即核查该人员及其手环", "Check the person and their wristband now"),
    "tag_low_battery": ("更换手环电池或手环", "Replace the wristband or its battery"),
    "node_offline": ("通知运维; 相关区域改为人工巡查",
                     "Call the technician; patrol the affected rooms in person"),
    "device_offline": ("通知运维; 该设备所在房间人工巡查",
                       "Call the technician; check the room in person"),
    "device_stale": ("通知运维检查设备", "Ask the technician to check the device"),
    "clock_skew": ("通知运维校时", "Ask the technician to fix the clock"),
}

DEFAULT = ("前往现场核查并报告值班员", "Go and check, then report to the duty desk")


def guidance(rule: str) -> tuple[str, str]:
    return GUIDANCE.get(rule, DEFAULT)
