-- wrk script: every request carries the bearer token in $TOKEN
-- (wrk -s auth.lua; run.sh logs in and sets it).
local token = os.getenv("TOKEN")
if token == nil or token == "" then
  error("auth.lua: set TOKEN to an access token")
end
wrk.headers["Authorization"] = "Bearer " .. token
