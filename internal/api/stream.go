package api

func (s *Server) streamRoutes() []Route {
	return nil
}
