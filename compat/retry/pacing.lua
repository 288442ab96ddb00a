-- compat's per-target pacing (compat/retry/pacing.py), ported line by line to run inside
-- Redis, so that every process sharing a target reserves its slots atomically, in one
-- round trip. compat.retry.redis prepends the constants, the record's field names (FIELDS)
-- and their initial values (INITIAL), all read from pacing.py, before loading this file.
--
-- pacing.py is the reference: each function below mirrors the one of the same name there,
-- statement for statement and in the same order of arithmetic, so that both give the same
-- verdicts, waits and records to the last bit. tests/test_redis_state.py drives both with
-- the same random sequences and fails until a change to pacing.py is followed here.
--
-- KEYS[1]  the target's record (a hash), or the retry budget for "take" and "give"
-- KEYS[2]  the retry budget (for "report")
-- ARGV     the operation, then its arguments (see the dispatch at the end)
--
-- Times: ARGV "now" is the caller's clock, or "" for the server's own TIME (seconds since
-- EPOCH), which every process on every host shares. Waits returned are durations.
-- Numbers travel as text written with 17 significant digits, so that none is rounded.

local function num(text)
  if text == nil or text == "" then
    return nil
  end
  return tonumber(text)
end

local function fmt(x)
  return string.format("%.17g", x)
end

local function has(ticket, slot)
  return bit.band(ticket, slot) ~= 0
end

-- ------------------------------------------------------------------------ the record

local function load(key, probe_concurrency)
  local flat = redis.call("HGETALL", key)
  local t, before = {}, {}
  for _, name in ipairs(FIELDS) do
    t[name] = INITIAL[name]
  end
  t.window = probe_concurrency
  for i = 1, #flat, 2 do
    local value = tonumber(flat[i + 1])
    if value ~= nil and t[flat[i]] ~= nil then
      t[flat[i]] = value
    end
  end
  for _, name in ipairs(FIELDS) do
    before[name] = t[name]
  end
  return t, before, #flat == 0
end

local function save(key, t, before, fresh, now, ttl_ms)
  local changed = {}
  for _, name in ipairs(FIELDS) do
    local value = t[name]
    if fresh or value ~= before[name] then
      changed[#changed + 1] = name
      changed[#changed + 1] = fmt(value)
    end
  end
  if #changed > 0 then
    redis.call("HSET", key, unpack(changed))
  end
  -- Idle records expire: ttl after their last use, or after the last time they still
  -- make calls wait (a cooldown, a reserved slot, a probe), whichever is later.
  local horizon = math.max(t.cool, t.tat, t.token_tat, t.next_probe, t.probe_until) - now
  if horizon ~= horizon then
    horizon = 0 -- not a number
  end
  horizon = math.min(math.max(horizon, 0), 86400)
  redis.call("PEXPIRE", key, math.floor(ttl_ms + horizon * 1000))
end

-- ------------------------------------------------------------------------ acquire

local function give_back(t, ticket)
  if has(ticket, SLOW) and t.inflight > 0 then
    t.inflight = t.inflight - 1
  end
  if has(ticket, PROBE) then
    t.probe_until = 0.0
  end
end

local function acquire(t, now, limits, max_wait, tokens)
  t.used = now
  local ticket = 0
  if t.down ~= 0 then
    if t.probe_until <= now and now >= t.next_probe then
      t.probe_until = now + PROBE_LEASE
      ticket = PROBE
    else
      if max_wait <= 0 then
        return REFUSE, math.max(t.next_probe - now, 0.0), "held", 0
      end
      return AGAIN, math.min(math.max(t.next_probe - now, PROBE_POLL), 0.25, max_wait), "held", 0
    end
  elseif t.slow ~= 0 then
    if t.first_seen < 0 then
      t.first_seen = now
    end
    if now - t.first_seen >= limits.probe_window then
      t.slow = 0
    elseif t.inflight >= t.window then
      if max_wait <= 0 then
        return REFUSE, PROBE_POLL, "slow start", 0
      end
      return AGAIN, math.min(PROBE_POLL, max_wait), "slow start", 0
    else
      t.inflight = t.inflight + 1
      ticket = SLOW
    end
  end

  local start = t.cool
  if t.cool <= now then
    start = now
  end
  local go_at = start
  local why = ""
  if start > now then
    why = "cooldown"
  end
  local interval = 0.0
  if t.rate > 0 then
    interval = 1.0 / t.rate
    local earliest = t.tat - (t.burst - 1.0) * interval
    if earliest > go_at + EPSILON then
      go_at, why = earliest, "pacing"
    end
  end
  local token_interval = 0.0
  if t.token_rate > 0 and tokens > 0 then
    if tokens > t.token_burst then
      give_back(t, ticket)
      return REFUSE, math.huge, "too large", 0
    end
    token_interval = tokens / t.token_rate
    local earliest = t.token_tat - t.token_burst / t.token_rate + token_interval
    if earliest > go_at + EPSILON then
      go_at, why = earliest, "tokens"
    end
  end
  local wait = go_at - now
  if wait > max_wait then
    give_back(t, ticket)
    return REFUSE, wait, why, 0
  end
  if t.mode == ESTIMATED and why == "pacing" and wait > SLICE then
    give_back(t, ticket)
    return AGAIN, SLICE, why, 0
  end
  if interval ~= 0 then
    t.tat = math.max(t.tat, go_at) + interval
    ticket = bit.bor(ticket, PACED)
  end
  if token_interval ~= 0 then
    t.token_tat = math.max(t.token_tat, go_at) + token_interval
  end
  return GO, wait, why, ticket
end

local function pace_slot_back(t)
  t.tat = math.max(t.tat - 1.0 / t.rate, t.floor)
end

local function release(t, ticket, tokens)
  give_back(t, ticket)
  if has(ticket, PACED) and t.rate > 0 then
    pace_slot_back(t)
  end
  if tokens ~= 0 and t.token_rate > 0 then
    t.token_tat = t.token_tat - tokens / t.token_rate
  end
end

-- ------------------------------------------------------------------------ report

local function reshape(tat, now, rate, burst, new_rate, new_burst)
  if rate <= 0 then
    return now
  end
  local free = math.min(burst - (tat - now) * rate, new_burst)
  return now + (new_burst - free) / new_rate
end

local function set_rate(t, now, rate, burst)
  rate = math.min(math.max(rate, MIN_RATE), MAX_RATE)
  burst = math.max(burst, 1.0)
  t.tat = reshape(t.tat, now, t.rate, t.burst, rate, burst)
  t.rate, t.burst = rate, burst
end

local function delivered(t, now)
  local current = 0.0
  if t.wstart >= 0 and t.wcount ~= 0 then
    current = t.wcount / math.max(now - t.wstart, 0.25)
  end
  return math.max(t.delivered, current)
end

local function limited(t, now, seen)
  t.last_429 = now
  t.streak = t.streak + 1
  t.pressure = t.pressure + (1.0 - t.pressure) * PRESSURE_WEIGHT
  local wait = seen.retry_after
  local binding = t.pressure >= PRESSURE_BINDING
  if t.mode == UNPACED and binding then
    local estimate = delivered(t, now)
    if estimate <= 0 and wait ~= nil and wait ~= 0 then
      estimate = 1.0 / wait
    end
    if estimate > 0 then
      t.mode = ESTIMATED
      t.slow = 0
      set_rate(t, now, estimate, 1.0)
      t.cut_at = now + SETTLE
    end
  elseif t.mode == ESTIMATED and binding and now >= t.cut_at then
    local estimate = delivered(t, now)
    set_rate(t, now, math.min(t.rate, math.max(estimate, t.rate * 0.5)), 1.0)
    t.cut_at = now + SETTLE
  end
  if wait ~= nil and wait > 0 then
    local known = t.mode == FROM_HEADERS or (t.mode == ESTIMATED and binding) or t.streak >= STREAK
    if wait >= LONG_WAIT or (known and not seen.coarse) then
      t.cool = math.max(t.cool, now + wait)
    end
  end
  if t.rate > 0 then
    local interval = 1.0 / t.rate
    t.floor = math.max(t.floor, now + interval + (t.burst - 1.0) * interval)
    t.tat = math.max(t.tat, t.floor)
  end
end

local function succeeded(t, now)
  t.pressure = t.pressure * (1.0 - PRESSURE_WEIGHT)
  t.streak = 0
  if t.wstart < 0 then
    t.wstart = now
  end
  t.wcount = t.wcount + 1
  if now - t.wstart >= DELIVERY_WINDOW then
    t.delivered = t.wcount / (now - t.wstart)
    t.wstart = now
    t.wcount = 0
  end
  if t.mode == ESTIMATED then
    if now - t.last_429 >= QUIET then
      set_rate(t, now, math.min(t.rate * GROWTH, MAX_RATE), 1.0)
    end
  elseif t.slow ~= 0 then
    t.window = t.window + 1
  end
end

local function bucket(limit, remaining, reset, prev_r, prev_s, cap)
  if prev_s > 0 and math.abs(reset - prev_s) >= 0.02 then
    local size = (prev_r * reset - remaining * prev_s) / (reset - prev_s)
    local spread = (prev_s + reset) / math.abs(reset - prev_s)
    if math.max(remaining, prev_r) < size and size < 0.9 * limit and spread <= 0.05 * size then
      return size
    end
  end
  if 0 < cap and cap < limit then
    return cap
  end
  return limit
end

local function learn_requests(t, now, seen)
  local limit, remaining, reset = seen.limit_requests, seen.remaining_requests, seen.reset_requests
  if limit == nil or remaining == nil or limit <= 0 then
    return
  end
  if t.limit_bound ~= limit then
    t.cap = 0.0
    t.prev_s = 0.0
  end
  if reset ~= nil and reset > 0 and limit > remaining then
    local size = bucket(limit, remaining, reset, t.prev_r, t.prev_s, t.cap)
    if size < limit then
      t.cap = size
    else
      t.cap = 0.0
    end
    if t.prev_s > 0 then
      t.slow = 0
    end
    t.prev_r, t.prev_s = remaining, reset
    local bound = (size - remaining) / reset
    if t.rate_bound > 0 and t.limit_bound == limit then
      local rose = (size - remaining - 1) / reset > t.rate_bound
      if not rose then
        bound = math.min(bound, t.rate_bound)
      end
    end
    t.limit_bound, t.rate_bound = limit, bound
    set_rate(t, now, bound * HEADROOM, size)
    t.mode = FROM_HEADERS
  end
  if t.rate > 0 then
    local interval = 1.0 / t.rate
    t.floor = math.max(t.floor, now + (t.burst - math.max(remaining, 0.0)) * interval)
    t.tat = math.max(t.tat, t.floor)
  end
end

local function learn_tokens(t, now, seen)
  local limit, remaining, reset = seen.limit_tokens, seen.remaining_tokens, seen.reset_tokens
  if limit == nil or remaining == nil or limit <= 0 then
    return
  end
  if t.token_limit_bound ~= limit then
    t.token_cap = 0.0
    t.token_prev_s = 0.0
  end
  if reset ~= nil and reset > 0 and limit > remaining then
    local size = bucket(limit, remaining, reset, t.token_prev_r, t.token_prev_s, t.token_cap)
    if size < limit then
      t.token_cap = size
    else
      t.token_cap = 0.0
    end
    if t.token_prev_s > 0 then
      t.slow = 0
    end
    t.token_prev_r, t.token_prev_s = remaining, reset
    local bound = (size - remaining) / reset
    if t.token_bound > 0 and t.token_limit_bound == limit then
      local rose = (size - remaining - 1) / reset > t.token_bound
      if not rose then
        bound = math.min(bound, t.token_bound)
      end
    end
    t.token_limit_bound, t.token_bound = limit, bound
    local rate = bound * HEADROOM
    t.token_tat = reshape(t.token_tat, now, t.token_rate, t.token_burst, rate, size)
    t.token_rate, t.token_burst = rate, size
  end
  if t.token_rate > 0 then
    t.token_tat = math.max(t.token_tat, now + (t.token_burst - math.max(remaining, 0.0)) / t.token_rate)
  end
end

local function learn_tpm(t, now, limit, used)
  if limit <= 0 or t.token_limit_bound > 0 then
    return
  end
  local rate = limit / 60.0 * HEADROOM
  t.token_tat = reshape(t.token_tat, now, t.token_rate, t.token_burst, rate, limit)
  t.token_rate, t.token_burst = rate, limit
  t.token_tat = math.max(t.token_tat, now + math.max(used, 0.0) / rate)
  t.slow = 0
end

local function report(t, now, limits, seen, ticket)
  t.used = now
  give_back(t, ticket)
  local outcome = seen.outcome
  if outcome == EXHAUSTED then
    t.fails = t.fails + 1
    t.down = 1
    t.probe_until = 0.0
    t.probe_every = PROBE_QUOTA
    local wait = seen.retry_after
    if wait == nil then
      wait = 0.0
    end
    t.next_probe = now + math.max(wait, PROBE_QUOTA)
    return true
  end
  if seen.tokens ~= nil and seen.tokens ~= 0 and t.token_rate > 0 then
    if outcome ~= OK then
      t.token_tat = t.token_tat - seen.tokens / t.token_rate
    elseif seen.tokens_used ~= nil then
      t.token_tat = t.token_tat + (seen.tokens_used - seen.tokens) / t.token_rate
    end
  end
  if has(ticket, PACED) and t.rate > 0 and (outcome == DOWN or outcome == ANSWERED) then
    pace_slot_back(t)
  end
  if outcome == DOWN then
    t.fails = t.fails + 1
    if t.down ~= 0 then
      if has(ticket, PROBE) then
        t.next_probe = now + t.probe_every
        t.probe_every = math.min(t.probe_every * 2, PROBE_EVERY)
      end
    elseif limits.hold and t.fails >= DOWN_AFTER then
      t.down = 1
      local wait = seen.retry_after
      if wait == nil then
        wait = 0.0
      end
      t.probe_every = PROBE_FIRST
      t.next_probe = now + math.max(wait, PROBE_FIRST)
      t.probe_until = 0.0
    end
    return t.down ~= 0
  end
  t.fails = 0
  if t.down ~= 0 then
    t.down = 0
    t.probe_until = 0.0
    if t.mode == UNPACED then
      t.slow = 1
      t.first_seen = now
      t.inflight = 0
      t.window = limits.probe_concurrency
    end
  end

  if seen.limit_tokens ~= nil then
    learn_tokens(t, now, seen)
  elseif seen.tpm_limit ~= nil then
    learn_tpm(t, now, seen.tpm_limit, seen.tpm_used)
  end
  if seen.limit_requests ~= nil then
    learn_requests(t, now, seen)
  end

  if outcome == LIMITED then
    limited(t, now, seen)
  elseif outcome == OK then
    succeeded(t, now)
  end
  return false
end

-- ------------------------------------------------------------------------ the retry budget
-- Absent means never spent (full), as LocalState's -1.

local function budget_read(key)
  local stored = redis.call("GET", key)
  if stored then
    return tonumber(stored)
  end
  return -1.0
end

local function budget_left(budget, capacity)
  if budget < 0 then
    return capacity
  end
  return math.min(budget, capacity)
end

local function budget_give(key, budget, capacity, refill)
  if budget >= 0 and budget < capacity then
    budget = math.min(capacity, budget + refill)
    redis.call("SET", key, fmt(budget))
  end
  return budget
end

-- ------------------------------------------------------------------------ dispatch

if redis.replicate_commands then
  redis.replicate_commands() -- before Redis 5, a script that reads TIME must say so
end

local op = ARGV[1]

if op == "take" then
  local capacity = num(ARGV[2])
  local left = budget_left(budget_read(KEYS[1]), capacity)
  if left < 1.0 then
    return 0
  end
  redis.call("SET", KEYS[1], fmt(left - 1.0))
  return 1
end

if op == "give" then
  budget_give(KEYS[1], budget_read(KEYS[1]), num(ARGV[2]), num(ARGV[3]))
  return 1
end

-- Target operations: ARGV[2] now ("" for the server's clock), ARGV[3] the record's time
-- to live in ms, ARGV[4..6] the policy's limits (probe_concurrency, probe_window, hold).
local now = num(ARGV[2])
if now == nil then
  local time = redis.call("TIME")
  now = (tonumber(time[1]) - EPOCH) + tonumber(time[2]) / 1000000
end
local ttl_ms = num(ARGV[3])
local limits = { probe_concurrency = num(ARGV[4]), probe_window = num(ARGV[5]), hold = ARGV[6] == "1" }
local t, before, fresh = load(KEYS[1], limits.probe_concurrency)

if op == "acquire" then
  -- ARGV[7..] a (max_wait, tokens) pair per reservation: the calls of one process asking
  -- together, answered as if each had asked in turn, four values each.
  local answers = {}
  for i = 7, #ARGV - 1, 2 do
    local verdict, wait, why, ticket = acquire(t, now, limits, num(ARGV[i]), num(ARGV[i + 1]))
    answers[#answers + 1] = fmt(verdict)
    answers[#answers + 1] = fmt(wait)
    answers[#answers + 1] = why
    answers[#answers + 1] = fmt(ticket)
  end
  save(KEYS[1], t, before, fresh, now, ttl_ms)
  return answers
end

if op == "release" then
  -- ARGV[7] ticket, ARGV[8] tokens
  release(t, num(ARGV[7]), num(ARGV[8]))
  save(KEYS[1], t, before, fresh, now, ttl_ms)
  return 1
end

if op == "report" then
  -- ARGV[7] ticket, ARGV[8..20] the observation, ARGV[21..22] the budget's capacity and
  -- refill ("" for none)
  local seen = {
    outcome = num(ARGV[8]),
    retry_after = num(ARGV[9]),
    coarse = ARGV[10] == "1",
    limit_requests = num(ARGV[11]),
    remaining_requests = num(ARGV[12]),
    reset_requests = num(ARGV[13]),
    limit_tokens = num(ARGV[14]),
    remaining_tokens = num(ARGV[15]),
    reset_tokens = num(ARGV[16]),
    tokens = num(ARGV[17]),
    tokens_used = num(ARGV[18]),
    tpm_limit = num(ARGV[19]),
    tpm_used = num(ARGV[20]),
  }
  local held = report(t, now, limits, seen, num(ARGV[7]))
  save(KEYS[1], t, before, fresh, now, ttl_ms)
  local budget = budget_read(KEYS[2])
  local capacity = num(ARGV[21])
  if capacity == nil then
    return { held and "1" or "0", fmt(budget_left(budget, math.huge)) }
  end
  if seen.outcome == OK then
    budget = budget_give(KEYS[2], budget, capacity, num(ARGV[22]))
  end
  return { held and "1" or "0", fmt(budget_left(budget, capacity)) }
end

return redis.error_reply("compat: unknown operation " .. tostring(op))
