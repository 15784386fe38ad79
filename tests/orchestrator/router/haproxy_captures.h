// Captured from HAProxy 2.6.12 (Debian 12) over its Runtime API; see the comments at each use.
#pragma once

#include <string>

namespace orch::router::test {

// "show stat" with backend roll (balance first, h1 maxconn 1, h2 disabled) while two slow
// requests were in flight: one on h1, one queued in the backend.
const std::string kShowStatBusy =
    R"haproxy(# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
fe,FRONTEND,,,2,2,9986,2,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,2,0,2,,,,0,0,0,0,0,0,,2,2,2,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,2,2,2,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,2,2,158,0,0,0,
roll,h1,0,0,1,1,1,1,0,0,,0,,0,0,0,0,no check,1,1,0,,,2,,,1,3,1,,1,,2,1,,1,,,,0,0,0,0,0,0,,,,0,0,0,,,,,1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18080,,http,,,,,,,,0,1,0,,,0,,0,0,0,0,0,0,0,1,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
roll,h2,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,2,,,1,3,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.2:18080,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
roll,BACKEND,1,1,2,2,999,2,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,2,0,,1,3,0,,1,,1,2,,2,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,1,,,0,0,0,0,,,,,,,,,,,,,,http,first,,,,,,,0,1,0,0,0,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,1,1,0,79,0,0,

)haproxy";

// "show servers state roll" after "set server roll/h1 state drain" and
// "set server roll/h2 state maint".
const std::string kServersStateDrainMaint = R"haproxy(1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
5 roll 1 h1 127.0.0.1 2 8 1 1 1 1 0 2 0 0 0 0 - 18080 - 0 0 - - 0
5 roll 2 h2 127.0.0.2 0 1 1 1 0 1 0 0 0 0 0 0 - 18080 - 0 0 - - 0

)haproxy";

// "show servers state rollsf": start-first slots, h1-green "disabled" in haproxy.cfg.
const std::string kServersStateSlots = R"haproxy(1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
6 rollsf 1 h1-blue 127.0.0.1 2 0 1 1 3 1 0 2 0 0 0 0 - 18080 - 0 0 - - 0
6 rollsf 2 h1-green 127.0.0.1 0 5 1 1 3 1 0 0 8 0 0 0 - 18081 - 0 0 - - 0

)haproxy";

// "show map /tmp/hap/rollgate.map" and HAProxy's answers to mistakes.
const std::string kShowMap = R"haproxy(0x55584396aa50 web web_blue

)haproxy";
const std::string kUnknownMap = R"haproxy(Unknown map identifier. Please use #<id> or <file>.

)haproxy";
const std::string kUnknownBackend = R"haproxy(Can't find backend.

)haproxy";

}  // namespace orch::router::test
