-- The user types a line above the function while the rewrite streams (single-undo mode on).
-- Their line is kept, the result lands exactly below it, and undo never mixes their change with
-- the job's edits: the undo step that removes their line changes nothing else.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true })
H.run(function()
  local bufnr = H.open(case.file)
  local source = H.read(case.file)
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the first streamed edits', function()
    return H.text(bufnr) ~= source
  end)
  H.keys('ggO' .. case.typed .. '<Esc>')
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.wait('the final text', function()
    return H.text(bufnr) == H.read('expected.txt')
  end, 3000)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))

  -- walk back with `u` to the original, checking each step
  local typed_line = case.typed .. '\n'
  local function without_typed(text)
    local s = text:find(typed_line, 1, true)
    return s and (text:sub(1, s - 1) .. text:sub(s + #typed_line)) or text
  end
  local states = { H.text(bufnr) }
  for _ = 1, 10 do
    H.keys('u')
    table.insert(states, H.text(bufnr))
    if states[#states] == source then
      break
    end
  end
  H.check('undo reaches the original', states[#states], source)
  H.check('a few undo steps, not one per edit', #states - 1 <= 3, true)
  for i = 2, #states do
    local had, has =
      states[i - 1]:find(typed_line, 1, true) ~= nil, states[i]:find(typed_line, 1, true) ~= nil
    if had ~= has then
      H.check(
        'the step that undoes the typing changes nothing else',
        without_typed(states[i - 1]),
        without_typed(states[i])
      )
    end
  end
  H.log('undo steps: %d', #states - 1)
end)
